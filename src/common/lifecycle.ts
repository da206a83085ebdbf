/** Process-wide state of the gateway's life: set to draining when a stop signal arrives. */
export class Lifecycle {
  draining = false;
}
