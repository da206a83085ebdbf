/**
 * Accounts and error bodies of the Spidr sandbox. Accounts carry realistic FAKE personal data
 * (name, email, phone, shipping address) as Spidr's account object does, so tests can prove the
 * gateway never copies it out.
 */
import { createHash } from 'node:crypto';
import type { SpidrWriteStatus } from './spidr.transformers.js';
import { SPIDR_STATUS, type SpidrErrorBody } from './spidr.wire.js';

export interface SpidrSandboxAccount {
  id: string;
  userId: string;
  productId: string;
  type: 'CARD_BACKED_LOC';
  status: string;
  statusReason: string | null;
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  shippingAddress: {
    line1: string;
    line2: string | null;
    city: string;
    state: string;
    postalCode: string;
    country: string;
  };
  createdAt: string;
  updatedAt: string;
}

const FIRST = ['Maria', 'James', 'Aiko', 'Daniel', 'Fatima', 'Lucas'];
const LAST = ['Hernandez', 'Okafor', 'Tanaka', 'Schmidt', 'Haddad', 'Moreau'];
const STREETS = ['742 Evergreen Terrace', '1600 Amphitheatre Pkwy', '221 Baker St', '31 Spooner St'];
const CITIES = [
  ['Springfield', 'IL', '62704'],
  ['Austin', 'TX', '73301'],
  ['Denver', 'CO', '80203'],
  ['Portland', 'OR', '97205'],
] as const;

/** A fresh account: `active`, or closed with refund for the magic `CLOSED-` ids. */
export function newSpidrAccount(accountId: string, closed: boolean): SpidrSandboxAccount {
  const seed = createHash('sha256').update(accountId).digest();
  const pick = <T>(list: readonly T[], byte: number): T => list[seed[byte] % list.length];
  const firstName = pick(FIRST, 0);
  const lastName = pick(LAST, 1);
  const [city, state, postalCode] = pick(CITIES, 2);
  const now = new Date().toISOString();
  return {
    id: accountId,
    userId: `usr_${seed.subarray(4, 12).toString('hex')}`,
    productId: 'prd_sandbox_loc',
    type: 'CARD_BACKED_LOC',
    status: closed ? SPIDR_STATUS.closed : SPIDR_STATUS.active,
    statusReason: closed ? SPIDR_STATUS.closeWithRefund : null,
    firstName,
    lastName,
    email: `${firstName}.${lastName}${seed[3] % 100}@example.com`.toLowerCase(),
    phone: `+1555${String(seed.readUInt32BE(12) % 10_000_000).padStart(7, '0')}`,
    shippingAddress: { line1: pick(STREETS, 16), line2: null, city, state, postalCode, country: 'US' },
    createdAt: now,
    updatedAt: now,
  };
}

/** Applies a written status the way Spidr shows it afterwards: close_* reads as `closed` + statusReason. */
export function applySpidrStatus(account: SpidrSandboxAccount, status: SpidrWriteStatus): void {
  const closing = status.startsWith('close_');
  account.status = closing ? SPIDR_STATUS.closed : status;
  account.statusReason = closing ? status : null;
  account.updatedAt = new Date().toISOString();
}

export function spidrError(
  errorType: string,
  errorCode: string | null,
  message: string,
  errorData: unknown = null,
): SpidrErrorBody {
  return { status: 'error', error: { errorType, errorCode, message, errorData } };
}
