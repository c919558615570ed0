//! Customer profiles (contract §3): the caller's own profile only.
//!
//! `CustomerBody` is the contract's customer object; the staff list answers the same object,
//! so it is public.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::account::Gender;
use crate::domain::profile::{PhoneNumber, parse_date_of_birth, parse_gender};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::Fields;
use crate::http::pagination::{PageLinks, PageRequest, envelope};
use crate::http::register::{parse_email, parse_full_name};
use crate::state::AppState;
use crate::store::customers::{Customer, ProfileChanges};
use crate::store::ids::CustomerId;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/customers", get(list).post(create))
        .route(
            "/api/customers/{id}",
            get(retrieve).put(replace).patch(update).delete(destroy),
        )
}

async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<impl IntoResponse, ApiError> {
    let page = PageRequest::from_query(&query)?;
    let profile = state.store.find_own_customer(user.user_id).await?;
    let all: Vec<_> = profile.into_iter().map(CustomerBody).collect();
    let count = all.len() as u64;
    let results: Vec<_> = all
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.limit() as usize)
        .collect();
    let links = PageLinks {
        public_url: state.config.public_url.as_ref(),
        headers: &headers,
        path: "/api/customers/",
        query: &query,
    };
    envelope(&links, page, count, results)
}

async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let profile = read_profile(&mut fields, false);
    fields.finish()?;
    let customer = state.store.create_customer(user.user_id, profile).await?;
    Ok((StatusCode::CREATED, Json(CustomerBody(customer))))
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let customer = state
        .store
        .find_customer(user.user_id, CustomerId::new(id))
        .await?;
    Ok(Json(CustomerBody(customer)))
}

async fn replace(
    state: State<AppState>,
    user: AuthUser,
    id: Id,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::new(&body);
    let changes = read_profile(&mut fields, true);
    save(state, user, id, fields, changes).await
}

async fn update(
    state: State<AppState>,
    user: AuthUser,
    id: Id,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::partial(&body);
    let changes = read_profile(&mut fields, false);
    save(state, user, id, fields, changes).await
}

async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
    fields: Fields<'_>,
    changes: ProfileChanges,
) -> Result<Json<CustomerBody>, ApiError> {
    let id = CustomerId::new(id);
    // Another user's id is a 404 even when the body is also invalid: check ownership first.
    state.store.find_customer(user.user_id, id).await?;
    fields.finish()?;
    let customer = state
        .store
        .change_customer(user.user_id, id, changes)
        .await?;
    Ok(Json(CustomerBody(customer)))
}

async fn destroy(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_customer(user.user_id, CustomerId::new(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads the profile fields shared by registration, create, `PUT` and `PATCH`.
/// `every_key` (for `PUT`) makes even the optional fields' keys mandatory (`null` allowed).
pub fn read_profile(fields: &mut Fields<'_>, every_key: bool) -> ProfileChanges {
    ProfileChanges {
        full_name: fields.required("full_name", parse_full_name),
        email: fields.required("email", parse_email),
        phone_number: fields.optional("phone_number", every_key, |text| {
            PhoneNumber::parse(text).map(|p| p.as_str().to_owned())
        }),
        date_of_birth: fields.optional("date_of_birth", every_key, parse_date_of_birth),
        gender: fields.optional("gender", every_key, parse_gender),
    }
}

/// The contract's customer object, built from the row: the owner's `username` beside the
/// profile fields, `date_of_birth` as `YYYY-MM-DD`, `gender` as its one-letter code.
#[derive(Clone, Debug)]
pub struct CustomerBody(pub Customer);

/// The JSON fields in contract order, borrowed from the row (no copy per answer).
#[derive(Serialize)]
struct CustomerFields<'a> {
    id: CustomerId,
    username: &'a str,
    full_name: &'a str,
    email: &'a str,
    phone_number: Option<&'a str>,
    #[serde(serialize_with = "serialize_optional_display")]
    date_of_birth: Option<NaiveDate>,
    #[serde(serialize_with = "serialize_optional_display")]
    gender: Option<Gender>,
    created_at: &'a str,
    updated_at: &'a str,
}

impl Serialize for CustomerBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let customer = &self.0;
        CustomerFields {
            id: customer.id,
            username: &customer.username,
            full_name: &customer.full_name,
            email: &customer.email,
            phone_number: customer.phone_number.as_deref(),
            date_of_birth: customer.date_of_birth,
            gender: customer.gender,
            created_at: &customer.created_at,
            updated_at: &customer.updated_at,
        }
        .serialize(serializer)
    }
}

/// Serializes an optional domain value by its `Display` text (a date as `YYYY-MM-DD`, a gender
/// as its code), or `null`.
fn serialize_optional_display<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}
