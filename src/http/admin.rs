//! Staff routes (contract §8): everything, for staff and superusers only.
//!
//! Every handler takes a `StaffUser`, so a non-staff caller is refused (`403`, audited) before
//! any handler code runs. Lists are paginated and filterable; freeze and unfreeze are audited.
//!
//! The query string becomes typed filters here (`store::admin`: ids, enums, whole days, names
//! to look up), each bad value a field error; the store turns them into its own query.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;

use crate::domain::time::parse_date;
use crate::domain::{AccountStatus, TransactionType};
use crate::error::ApiError;
use crate::http::accounts::AccountBody;
use crate::http::customers::CustomerBody;
use crate::http::extract::{Id, QueryPairs, RequestContext, StaffUser};
use crate::http::form::invalid_choice;
use crate::http::pagination::store_page_response;
use crate::http::query_filters::QueryFilters as Filters;
use crate::http::transactions::TransactionBody;
use crate::state::AppState;
use crate::store::admin::{
    AccountFilter, AuditFilter, AuditRow, CustomerFilter, DayRange, SetAccountFrozen, StaffAccount,
    StaffAuditRow, StaffTransaction, TransactionFilter,
};
use crate::store::ids::{AccountId, AuditId, CustomerId, UserId};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/customers", get(customers))
        .route("/api/admin/accounts", get(accounts))
        .route("/api/admin/transactions", get(transactions))
        .route("/api/admin/audit", get(audit_log))
        .route("/api/admin/accounts/{id}/freeze", post(freeze))
        .route("/api/admin/accounts/{id}/unfreeze", post(unfreeze))
}

async fn customers(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let filter = CustomerFilter {
        user: filters.id("user").map(UserId::new),
        username: filters.given("username").map(str::to_owned),
    };
    filters.finish()?;
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/admin/customers/",
        |window| async move {
            let (count, rows) = store.staff_customers(filter, window).await?;
            Ok((count, rows.into_iter().map(CustomerBody).collect()))
        },
    )
    .await
}

async fn accounts(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let customer = filters.id("customer").map(CustomerId::new);
    let user = filters.id("user").map(UserId::new);
    let status = filters
        .given("status")
        .and_then(|text| match AccountStatus::parse(text) {
            Some(status) => Some(status),
            None => {
                filters.errors.add("status", invalid_choice(text));
                None
            }
        });
    let filter = AccountFilter {
        customer,
        user,
        status,
        account_number: filters.given("account_number").map(str::to_owned),
        username: filters.given("username").map(str::to_owned),
    };
    filters.finish()?;
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/admin/accounts/",
        |window| async move {
            let (count, rows) = store.staff_accounts(filter, window).await?;
            Ok((
                count,
                rows.into_iter().map(StaffAccountBody::from).collect(),
            ))
        },
    )
    .await
}

async fn transactions(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let account = filters.id("account").map(AccountId::new);
    let user = filters.id("user").map(UserId::new);
    let username = filters.given("username").map(str::to_owned);
    let account_number = filters.given("account_number").map(str::to_owned);
    let transaction_type =
        filters
            .given("transaction_type")
            .and_then(|text| match TransactionType::parse(text) {
                Some(kind) => Some(kind),
                None => {
                    filters.errors.add("transaction_type", invalid_choice(text));
                    None
                }
            });
    let filter = TransactionFilter {
        account,
        user,
        username,
        account_number,
        transaction_type,
        days: days(&mut filters),
    };
    filters.finish()?;
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/admin/transactions/",
        |window| async move {
            let (count, rows) = store.staff_transactions(filter, window).await?;
            Ok((
                count,
                rows.into_iter().map(StaffTransactionBody::from).collect(),
            ))
        },
    )
    .await
}

async fn audit_log(
    State(state): State<AppState>,
    _staff: StaffUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let mut filters = Filters::new(&query);
    let filter = AuditFilter {
        actor: filters.id("user").map(UserId::new),
        account: filters.id("account").map(AccountId::new),
        username: filters.given("username").map(str::to_owned),
        account_number: filters.given("account_number").map(str::to_owned),
        action: filters.given("action").map(str::to_owned),
        days: days(&mut filters),
    };
    filters.finish()?;
    let store = &state.store;
    store_page_response(
        &state,
        &headers,
        &query,
        "/api/admin/audit/",
        |window| async move {
            let (count, rows) = store.staff_audit(filter, window).await?;
            Ok((
                count,
                rows.into_iter().map(StaffAuditRowBody::from).collect(),
            ))
        },
    )
    .await
}

/// `?date_from=` / `?date_to=` as whole UTC days (both inclusive); a date that is not
/// `YYYY-MM-DD` is a field error.
fn days(filters: &mut Filters<'_>) -> DayRange {
    let mut day = |name: &str| {
        let text = filters.given(name)?;
        let day = parse_date(text);
        if day.is_none() {
            filters.errors.add(name, "Enter a valid date.");
        }
        day
    };
    DayRange {
        from: day("date_from"),
        to: day("date_to"),
    }
}

async fn freeze(
    state: State<AppState>,
    staff: StaffUser,
    ctx: RequestContext,
    id: Id,
) -> Result<impl IntoResponse, ApiError> {
    set_frozen(state, staff, ctx, id, true).await
}

async fn unfreeze(
    state: State<AppState>,
    staff: StaffUser,
    ctx: RequestContext,
    id: Id,
) -> Result<impl IntoResponse, ApiError> {
    set_frozen(state, staff, ctx, id, false).await
}

async fn set_frozen(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    ctx: RequestContext,
    Id(id): Id,
    frozen: bool,
) -> Result<Json<AccountBody>, ApiError> {
    let command = SetAccountFrozen {
        account: AccountId::new(id),
        frozen,
        audit: ctx.audit_as(&staff),
    };
    let action = command.action();
    let (account, audit_id) = state.store.set_account_frozen(command).await?;
    tracing::info!(
        staff_user_id = staff.user_id.get(),
        account_id = id,
        action,
        audit_id = audit_id.get(),
        "staff action"
    );
    Ok(Json(AccountBody(account)))
}

/// An account as staff see it: the contract's account object, then its owner's username, so a
/// person reads the list without looking ids up. `flatten` writes the account's fields first,
/// in their order (serde_json keeps insertion order), then `username`.
#[derive(Serialize)]
struct StaffAccountBody {
    #[serde(flatten)]
    account: AccountBody,
    username: String,
}

impl From<StaffAccount> for StaffAccountBody {
    fn from(row: StaffAccount) -> Self {
        Self {
            account: AccountBody(row.account),
            username: row.username,
        }
    }
}

/// A transaction as staff see it: the contract's transaction object, then the account owner's
/// username.
#[derive(Serialize)]
struct StaffTransactionBody {
    #[serde(flatten)]
    transaction: TransactionBody,
    username: String,
}

impl From<StaffTransaction> for StaffTransactionBody {
    fn from(row: StaffTransaction) -> Self {
        Self {
            transaction: TransactionBody(row.transaction),
            username: row.username,
        }
    }
}

/// An audit row as staff see it (contract §9), with the actor's username (`null` for
/// anonymous actors).
#[derive(Serialize)]
struct StaffAuditRowBody {
    id: AuditId,
    created_at: String,
    actor_user_id: Option<UserId>,
    client_ip: String,
    request_id: String,
    client_request_id: Option<String>,
    action: String,
    object_type: Option<String>,
    object_id: Option<i64>,
    outcome: &'static str,
    details: Value,
    hash: String,
    actor_username: Option<String>,
}

impl From<StaffAuditRow> for StaffAuditRowBody {
    fn from(staff_row: StaffAuditRow) -> Self {
        let AuditRow {
            id,
            created_at,
            actor_user_id,
            client_ip,
            request_id,
            client_request_id,
            action,
            object_type,
            object_id,
            outcome,
            details,
            hash,
        } = staff_row.row;
        Self {
            id,
            created_at,
            actor_user_id,
            client_ip,
            request_id,
            client_request_id,
            action,
            object_type,
            object_id,
            outcome: outcome.as_str(),
            details,
            hash,
            actor_username: staff_row.actor_username,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountNumber, AccountType, Amount, Balance};
    use crate::store::accounts::Account;
    use crate::store::ids::{TransactionId, TransferId};
    use crate::store::transactions::Transaction;

    fn account() -> Account {
        Account {
            id: AccountId::new(7),
            account_number: AccountNumber::parse("ACC-000000007").expect("a valid number"),
            account_type: AccountType::Savings,
            nickname: "rainy day".to_owned(),
            balance: Balance::from_cents(1250).expect("a valid balance"),
            status: AccountStatus::Frozen,
            customer: CustomerId::new(3),
            created_at: "2026-01-02T03:04:05.000000Z".to_owned(),
            updated_at: "2026-01-03T03:04:05.000000Z".to_owned(),
        }
    }

    fn transaction(counterparty: Option<&str>) -> Transaction {
        Transaction {
            id: TransactionId::new(11),
            account: AccountId::new(7),
            account_number: AccountNumber::parse("ACC-000000007").expect("a valid number"),
            transaction_type: TransactionType::TransferOut,
            amount: Amount::from_cents(305).expect("a valid amount"),
            balance_after: Balance::from_cents(945).expect("a valid balance"),
            counterparty_account_number: counterparty
                .map(|number| AccountNumber::parse(number).expect("a valid number")),
            transfer_id: counterparty.map(|_| TransferId::new(5)),
            description: "rent".to_owned(),
            created_at: "2026-01-02T03:04:05.000000Z".to_owned(),
        }
    }

    #[test]
    fn a_staff_account_is_the_account_object_then_the_owner_username_in_contract_order() {
        let row = StaffAccount {
            account: account(),
            username: "alice".to_owned(),
        };

        let json = serde_json::to_string(&StaffAccountBody::from(row)).expect("serializes");

        assert_eq!(
            json,
            r#"{"id":7,"account_number":"ACC-000000007","account_type":"savings","nickname":"rainy day","balance":"12.50","status":"frozen","customer":3,"created_at":"2026-01-02T03:04:05.000000Z","updated_at":"2026-01-03T03:04:05.000000Z","username":"alice"}"#
        );
    }

    #[test]
    fn a_staff_transaction_is_the_transaction_object_then_the_owner_username_in_contract_order() {
        let transfer = StaffTransaction {
            transaction: transaction(Some("ACC-000000008")),
            username: "alice".to_owned(),
        };
        let deposit = StaffTransaction {
            transaction: transaction(None),
            username: "bob".to_owned(),
        };

        let transfer = serde_json::to_string(&StaffTransactionBody::from(transfer)).expect("ok");
        let deposit = serde_json::to_string(&StaffTransactionBody::from(deposit)).expect("ok");

        assert_eq!(
            transfer,
            r#"{"id":11,"account":7,"account_number":"ACC-000000007","transaction_type":"transfer_out","amount":"3.05","balance_after":"9.45","counterparty_account_number":"ACC-000000008","transfer_id":5,"description":"rent","created_at":"2026-01-02T03:04:05.000000Z","username":"alice"}"#
        );
        assert_eq!(
            deposit,
            r#"{"id":11,"account":7,"account_number":"ACC-000000007","transaction_type":"transfer_out","amount":"3.05","balance_after":"9.45","counterparty_account_number":null,"transfer_id":null,"description":"rent","created_at":"2026-01-02T03:04:05.000000Z","username":"bob"}"#
        );
    }
}
