import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";

/** A button that asks first, in a modal dialog (Escape or Cancel closes it; keyboard focus moves into it). */
export function ConfirmButton({ label, question, confirm, onConfirm, danger }: { label: string; question: ComponentChildren; confirm: string; onConfirm: () => Promise<void>; danger?: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <button type="button" class={danger ? "danger" : ""} disabled={busy} onClick={() => dialog.current?.showModal()}>
        {busy ? `${label}…` : label}
      </button>
      <dialog ref={dialog} class="confirm">
        <p>{question}</p>
        <div class="buttons">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button
            type="button"
            class={danger ? "danger" : ""}
            onClick={async () => {
              dialog.current?.close();
              setBusy(true);
              try {
                await onConfirm();
              } finally {
                setBusy(false);
              }
            }}
          >
            {confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}
