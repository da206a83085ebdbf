/** Something that polls on a timer and can be woken early (a batch lane, a webhook subscriber's loop). */
export interface Wakeable {
  wake?: () => void;
}

/** Waits `ms`, or less when `holder.wake()` is called meanwhile (new work, a freed slot). */
export function pollOrWake(holder: Wakeable, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      holder.wake = undefined;
      resolve();
    }
    holder.wake = done;
  });
}
