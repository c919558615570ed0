//! Customer profiles (contract §3): the caller's own profile only.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::domain::profile::{PhoneNumber, parse_date_of_birth, parse_gender};
use crate::domain::time::now_rfc3339;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, Body, Id, QueryPairs};
use crate::http::form::Fields;
use crate::http::pagination::{PageLinks, PageRequest, envelope};
use crate::http::register::{parse_email, parse_full_name};
use crate::state::AppState;
use crate::store::sqlite::customers::{self, ProfileChanges};

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
    let profile = state
        .store
        .sqlite()
        .read_point(move |conn| customers::find_for_user(conn, user.user_id.get()))
        .await?;
    let all: Vec<_> = profile.into_iter().collect();
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
    let customer = state
        .store
        .sqlite()
        .write(move |conn| customers::insert(conn, user.user_id.get(), &profile, &now_rfc3339()))
        .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

async fn retrieve(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<impl IntoResponse, ApiError> {
    let customer = state
        .store
        .sqlite()
        .read_point(move |conn| customers::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    Ok(Json(customer))
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
) -> Result<Json<customers::Customer>, ApiError> {
    // Another user's id is a 404 even when the body is also invalid: check ownership first.
    state
        .store
        .sqlite()
        .read_point(move |conn| customers::find_by_id_and_owner(conn, id, user.user_id.get()))
        .await?;
    fields.finish()?;
    let customer = state
        .store
        .sqlite()
        .write(move |conn| {
            customers::update(conn, id, user.user_id.get(), &changes, &now_rfc3339())
        })
        .await?;
    Ok(Json(customer))
}

async fn destroy(
    State(state): State<AppState>,
    user: AuthUser,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .sqlite()
        .write(move |conn| customers::delete(conn, id, user.user_id.get(), &now_rfc3339()))
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
