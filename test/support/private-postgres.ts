// The soak script restarts a private cluster too, so the helper lives with the scripts.
export * from '../../src/scripts/private-postgres.js';
