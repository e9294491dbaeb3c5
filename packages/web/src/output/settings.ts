import { useState } from "preact/hooks";

/** The output view's toggles, remembered in this browser (localStorage). */
export interface OutputSettings {
  wrap: boolean;
  timestamps: boolean;
}

const key = "jobexec-output-settings";
const defaults: OutputSettings = { wrap: false, timestamps: false };

function load(): OutputSettings {
  try {
    const value = JSON.parse(localStorage.getItem(key) ?? "{}") as Partial<OutputSettings>;
    return { wrap: value.wrap === true, timestamps: value.timestamps === true };
  } catch {
    return defaults;
  }
}

/** The settings and a setter that remembers them. */
export function useOutputSettings(): [OutputSettings, (settings: OutputSettings) => void] {
  const [settings, setSettings] = useState(load);
  return [
    settings,
    (next) => {
      localStorage.setItem(key, JSON.stringify(next));
      setSettings(next);
    },
  ];
}
