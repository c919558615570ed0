// Compiled with `tsc --noEmit --strict` against the types openapi-typescript generates from
// bankd's /api/schema/ (tests/generated_clients.rs): each line states something an integrator
// relies on, and each `@ts-expect-error` something the types must refuse.
import type { components, operations, paths } from "./bankd";

type Schemas = components["schemas"];

// An Error always carries its code; without one it is not an Error.
export const refusal: Schemas["Error"] = { detail: "Insufficient funds.", code: "insufficient_funds" };
// @ts-expect-error: `code` is required
export const codeless: Schemas["Error"] = { detail: "Insufficient funds." };

// A 400 is an Error or field errors; the code tells them apart.
type BadRequest = operations["accounts_withdraw_create"]["responses"][400]["content"]["application/json"];
export function codeOf(answer: BadRequest): string | undefined {
    return "code" in answer && typeof answer.code === "string" ? answer.code : undefined;
}

// Request bodies are one JSON type; amounts are decimal strings.
type Deposit = paths["/api/accounts/{id}/deposit/"]["post"]["requestBody"]["content"]["application/json"];
export const deposit: Deposit = { amount: "12.50", description: "salary" };
// @ts-expect-error: money is never a float in a request
export const floatDeposit: Deposit = { amount: 12.5 };
type Posting = operations["accounts_deposit_create"]["responses"][200]["content"]["application/json"];
export const balanceOf = (posting: Posting): string => posting.new_balance;

// The Idempotency-Key header and typed filters.
type TransferHeaders = NonNullable<operations["accounts_transfer_create"]["parameters"]["header"]>;
export const key: TransferHeaders = { "Idempotency-Key": "transfer-2026-12-03-1" };
type LedgerQuery = NonNullable<operations["transactions_list"]["parameters"]["query"]>;
export const ledgerQuery: LedgerQuery = { account: 7, transaction_type: "deposit", page: 2, date_from: "2026-01-01" };
// @ts-expect-error: not a transaction type
export const refund: LedgerQuery = { transaction_type: "refund" };

// A nullable enum accepts null and its values only.
type Gender = Schemas["Customer"]["gender"];
export const unknownGender: Gender = null;
export const female: Gender = "F";
// @ts-expect-error: not a gender the API knows
export const other: Gender = "X";

// The statement download is text/csv.
type StatementCsv = paths["/api/statements/{id}/"]["get"]["responses"][200]["content"]["text/csv"];
export const csv: StatementCsv = "created_at,transaction_id\r\n";

// Staff operations exist under their tag's names.
type Frozen = operations["admin_accounts_freeze_create"]["responses"][200]["content"]["application/json"];
export const isFrozen = (account: Frozen): boolean => account.status === "frozen";
