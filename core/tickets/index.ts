export type { EcdsaAlg, EdAlg, HmacAlg, JsonValue, JwtAlg, JwtValidatorOptions, JwtVerifyKey, PublicJwk } from './jwt.ts';
export { JWT_ALGS, JWT_TICKET_CLASS, JwtValidator, MAX_JWT_BYTES, MAX_NUMERIC_DATE_S } from './jwt.ts';
export type { JwtSigningKey } from './jwt-sign.ts';
export { jwtTicket, signJwt } from './jwt-sign.ts';
export * from './tdx/index.ts';
export type { Expiration, Ticket, TicketRejection, TicketRejectionCode, TicketsValidation, TicketValidator, ValidationResult } from './ticket.ts';
export {
  compareExpirations,
  earliestExpiration,
  expiresAt,
  isExpired,
  latestExpiration,
  MAX_TIME_MS,
  NEVER,
  remainingMs,
  ticketId,
  ticketsOf,
  validateTicket,
  validateTickets,
} from './ticket.ts';
