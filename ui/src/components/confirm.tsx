import { useEffect, useRef } from 'preact/hooks';

/** A modal confirmation (the native <dialog>: focus trapped, Escape cancels). */
export function Confirm({ message, action, onConfirm, onCancel }: { message: string; action: string; onConfirm: () => void; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return (
    <dialog ref={ref} class="confirm" onCancel={onCancel} aria-label={message}>
      <p>{message}</p>
      <div class="state-actions">
        <button type="button" class="button" onClick={onCancel}>Cancel</button>
        <button type="button" class="button danger" onClick={onConfirm}>{action}</button>
      </div>
    </dialog>
  );
}
