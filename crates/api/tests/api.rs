//! The HTTP contract, end to end against the real app, PostgreSQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel_async::RunQueryDsl;
use ecole_core::Role;
use ecole_test_support::{TestApp, json_of};
use serde_json::{Value, json};

// ---------- the seed's §8.2 view tests ----------

#[tokio::test]
async fn test_list_users_unauthorized() {
    let app = TestApp::new().await;
    let (status, body) = json_of(app.get("/api/v1/users/").send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "not_authenticated");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("authentification")
    );
}

#[tokio::test]
async fn test_list_users_authorized() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    let res = app
        .get("/api/v1/users/")
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1);
    assert_eq!(body["next"], Value::Null);
    assert_eq!(body["previous"], Value::Null);
    assert_eq!(body["results"][0]["username"], admin.user.username.as_str());
}

#[tokio::test]
async fn test_get_current_user() {
    let app = TestApp::new().await;
    let admin = app
        .user()
        .username("admin")
        .email("admin@test.com")
        .create()
        .await;
    let res = app
        .get("/api/v1/users/me/")
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(body["email"], "admin@test.com");
    assert_eq!(body["role"], "ADMIN");
    assert!(body.get("password_hash").is_none());
    assert!(body.get("password").is_none());
}

// ---------- authentication ----------

async fn login(
    app: &TestApp,
    username: &str,
    password: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = app
        .post("/api/v1/auth/login/")
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let headers = res.headers().clone();
    let (s, b) = json_of(res).await;
    (s, b, headers)
}

#[tokio::test]
async fn login_by_username_or_email_and_same_answer_for_every_failure() {
    let app = TestApp::new().await;
    let user = app
        .user()
        .role(Role::Comptable)
        .username("Aissatou.Bah")
        .email("aissatou@ecole.gn")
        .create()
        .await;

    let (status, body, headers) = login(&app, "aissatou.bah", &user.password).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access"].as_str().unwrap().len() > 20);
    assert!(body["refresh"].as_str().unwrap().len() > 20);
    assert_eq!(body["user"]["role"], "COMPTABLE");
    assert!(body["user"].get("password_hash").is_none());
    assert_eq!(headers["cache-control"], "no-store");
    let (status, _, _) = login(&app, "AISSATOU@ecole.gn", &user.password).await;
    assert_eq!(status, 200);
    let me = app
        .get("/api/v1/users/me")
        .bearer_auth(body["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (_, me) = json_of(me).await;
    assert!(me["last_login"].as_str().unwrap().ends_with("+00:00"));

    let (s1, wrong_password, _) = login(&app, "aissatou.bah", "mauvais-mot-de-passe").await;
    let (s2, unknown_user, _) = login(&app, "personne", "mauvais-mot-de-passe").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(wrong_password["code"], "authentication_failed");

    let inactive = app.user().username("parti").inactive().create().await;
    let (s3, inactive_body, _) = login(&app, "parti", &inactive.password).await;
    assert_eq!(s3, 401);
    assert_eq!(inactive_body, unknown_user);

    let (s4, missing, _) = login(&app, "", "").await;
    assert_eq!(s4, 400);
    assert!(missing.get("username").is_some() && missing.get("password").is_some());
}

#[tokio::test]
async fn five_failures_for_a_username_are_throttled_with_retry_after() {
    let app = TestApp::new().await;
    let user = app.user().username("mariama").create().await;
    for _ in 0..5 {
        let (status, _, _) = login(&app, "mariama", "pas-le-bon-mdp").await;
        assert_eq!(status, 401);
    }
    let (status, body, headers) = login(&app, "mariama", &user.password).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "throttled");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
    // Another username from the same address is not blocked by this one.
    let other = app.user().username("binta").create().await;
    assert_eq!(login(&app, "binta", &other.password).await.0, 200);
}

#[tokio::test]
async fn twenty_failures_from_one_address_are_throttled() {
    let app =
        TestApp::with_settings(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let user = app.user().username("sekou").create().await;
    let attempt = |name: String, password: String, ip: &'static str| {
        let req = app
            .post("/api/v1/auth/login/")
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": name, "password": password }));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    for i in 0..20 {
        assert_eq!(
            attempt(format!("inconnu{i}"), "x-x-x-x-x-x".into(), "10.9.8.7").await,
            401
        );
    }
    assert_eq!(
        attempt("sekou".into(), user.password.clone(), "10.9.8.7").await,
        429
    );
    assert_eq!(
        attempt("sekou".into(), user.password.clone(), "10.9.8.8").await,
        200
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::new().await;
    let user = app.user().create().await;
    let refresh = |token: String| {
        let req = app
            .post("/api/v1/auth/refresh/")
            .json(&json!({ "refresh": token }));
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (status, first) = refresh(user.refresh.clone()).await;
    assert_eq!(status, 200);
    let new_refresh = first["refresh"].as_str().unwrap().to_string();
    let new_access = first["access"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, user.refresh);
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(&new_access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The old refresh token was used: presenting it again revokes the whole family.
    let (status, body) = refresh(user.refresh.clone()).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "authentication_failed");
    assert_eq!(refresh(new_refresh).await.0, 401);
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(&new_access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(refresh("inconnu".into()).await.0, 401);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::new().await;
    let user = app.user().create().await;
    let other_session = app
        .post("/api/v1/auth/login/")
        .json(&json!({"username": user.user.username, "password": user.password}))
        .send()
        .await
        .unwrap();
    let (_, other) = json_of(other_session).await;
    let res = app
        .post("/api/v1/auth/logout/")
        .json(&json!({ "refresh": user.refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let again = app
        .post("/api/v1/auth/refresh/")
        .json(&json!({ "refresh": user.refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
    // The other session is untouched.
    let res = app
        .get("/api/v1/users/me/")
        .bearer_auth(other["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let unknown = app
        .post("/api/v1/auth/logout/")
        .json(&json!({ "refresh": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
}

#[tokio::test]
async fn password_change_checks_policy_and_ends_other_sessions() {
    let app = TestApp::new().await;
    let user = app.user().username("ibrahima").create().await;
    let (_, second) = {
        let (s, b, _) = login(&app, "ibrahima", &user.password).await;
        (s, b)
    };
    let change = |body: Value| {
        let req = app
            .post("/api/v1/auth/password/")
            .bearer_auth(&user.access)
            .json(&body);
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (s, b) =
        change(json!({"old_password": "faux-mot-de-passe", "new_password": "Nouveau-mdp-2026"}))
            .await;
    assert_eq!(s, 400);
    assert!(b.get("old_password").is_some());
    let (s, b) = change(json!({"old_password": user.password, "new_password": "court"})).await;
    assert_eq!(s, 400);
    assert!(
        b["new_password"][0]
            .as_str()
            .unwrap()
            .contains("trop court")
    );
    let (s, _) = change(json!({"old_password": user.password, "new_password": "IBRAHIMA"})).await;
    assert_eq!(s, 400);
    let (s, _) =
        change(json!({"old_password": user.password, "new_password": "Nouveau-mdp-2026"})).await;
    assert_eq!(s, 204);
    // This session goes on; the other one is over.
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let other = second["access"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(other)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(login(&app, "ibrahima", &user.password).await.0, 401);
    assert_eq!(login(&app, "ibrahima", "Nouveau-mdp-2026").await.0, 200);
    assert_eq!(
        app.post("/api/v1/auth/password/")
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn forged_and_expired_tokens_are_refused() {
    let app = TestApp::with_settings(|s| {
        s.access_token_ttl = Duration::from_secs(1);
        s.jwt_leeway = Duration::ZERO;
    })
    .await;
    let parent = app.as_role(Role::Parent).await;
    let parts: Vec<&str> = parent.access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    let mut elevated = claims.clone();
    elevated["role"] = json!("ADMIN");
    let edited = format!("{}.{}.{}", parts[0], b64(&elevated), parts[2]);
    let mut foreign_aud = claims.clone();
    foreign_aud["aud"] = json!("autre-api");
    let foreign = format!("{}.{}.{}", parts[0], b64(&foreign_aud), parts[2]);
    for (what, token) in [
        ("alg none", none),
        ("payload modifié", edited),
        ("aud", foreign),
        ("vide", "a.b.c".into()),
    ] {
        let res = app
            .get("/api/v1/users/me/")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(res).await;
        assert_eq!(status, 401, "{what}");
        assert_eq!(body["code"], "authentication_failed", "{what}");
    }
    let res = app
        .get("/api/v1/users/me/")
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Expiry: 1 s lifetime, no leeway.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = app
        .get("/api/v1/users/me/")
        .bearer_auth(&parent.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

// ---------- users API ----------

#[tokio::test]
async fn admin_manages_users_and_every_change_is_audited() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    let res = app
        .post("/api/v1/users/")
        .bearer_auth(&admin.access)
        .json(&json!({
            "username": "oumar.sow", "email": "oumar@ecole.gn", "password": "Conakry-2026!",
            "first_name": "Oumar", "last_name": "Sow", "role": "ENSEIGNANT", "telephone": "622 11 22 33"
        }))
        .send()
        .await
        .unwrap();
    let (status, created) = json_of(res).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["full_name"], "Oumar Sow");
    assert_eq!(created["telephone"], "+224622112233");
    assert!(created.get("password_hash").is_none() && created.get("password").is_none());
    let id = created["id"].as_i64().unwrap();

    // Duplicate username (case-insensitive), bad email and phone, weak password.
    let res = app
        .post("/api/v1/users/")
        .bearer_auth(&admin.access)
        .json(&json!({"username": "OUMAR.SOW", "email": "x", "password": "123", "role": "PARENT", "telephone": "12"}))
        .send()
        .await
        .unwrap();
    let (status, errors) = json_of(res).await;
    assert_eq!(status, 400);
    for field in ["email", "password", "telephone"] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    let res = app
        .post("/api/v1/users/")
        .bearer_auth(&admin.access)
        .json(&json!({"username": "OUMAR.SOW", "password": "Conakry-2026!", "role": "PARENT"}))
        .send()
        .await
        .unwrap();
    let (status, errors) = json_of(res).await;
    assert_eq!(status, 400);
    assert!(
        errors["username"][0]
            .as_str()
            .unwrap()
            .contains("existe déjà")
    );
    let res = app
        .post("/api/v1/users/")
        .bearer_auth(&admin.access)
        .json(&json!({"username": "x1", "password": "Conakry-2026!", "role": "ROI"}))
        .send()
        .await
        .unwrap();
    let (status, errors) = json_of(res).await;
    assert_eq!(status, 400);
    assert!(
        errors["role"][0].as_str().unwrap().contains("ROI"),
        "{errors}"
    );

    let url = format!("/api/v1/users/{id}/");
    let (status, got) = json_of(
        app.get(&url)
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, got["username"].as_str()), (200, Some("oumar.sow")));

    let res = app
        .patch(&url)
        .bearer_auth(&admin.access)
        .json(&json!({"role": "DIRECTION", "telephone": null}))
        .send()
        .await
        .unwrap();
    let (status, patched) = json_of(res).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["role"], "DIRECTION");
    assert_eq!(patched["telephone"], Value::Null);

    let res = app
        .put(&url)
        .bearer_auth(&admin.access)
        .json(&json!({"first_name": "O."}))
        .send()
        .await
        .unwrap();
    let (status, errors) = json_of(res).await;
    assert_eq!(status, 400);
    assert!(errors.get("username").is_some() && errors.get("role").is_some());

    // The user signs in, then is deactivated: their token stops working.
    let (_, session, _) = login(&app, "oumar.sow", "Conakry-2026!").await;
    let token = session["access"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&url)
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.get("/api/v1/users/me/")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let (_, got) = json_of(
        app.get(&url)
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got["is_active"], false);

    // Self-protection.
    let me_url = format!("/api/v1/users/{}/", admin.id());
    assert_eq!(
        app.delete(&me_url)
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let res = app
        .patch(&me_url)
        .bearer_auth(&admin.access)
        .json(&json!({"role": "PARENT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.get("/api/v1/users/99999/")
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Audit: create, role change, deactivation, with before/after and never a hash.
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        data: String,
    }
    let mut conn = app.conn().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT action, coalesce(before::text, '') || coalesce(after::text, '') AS data FROM audit_log WHERE table_name = 'users' AND row_id = $1 ORDER BY id",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .load(&mut conn)
    .await
    .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["CREATE", "ROLE_CHANGE", "DEACTIVATE"]);
    assert!(rows.iter().all(|r| !r.data.contains("argon2")));
    // The journal is append-only.
    assert!(
        diesel::sql_query("UPDATE audit_log SET action = 'X'")
            .execute(&mut conn)
            .await
            .is_err()
    );
    assert!(
        diesel::sql_query("DELETE FROM audit_log")
            .execute(&mut conn)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn who_may_read_and_write_users() {
    let app = TestApp::new().await;
    for role in Role::ALL {
        let user = app.as_role(*role).await;
        let list = app
            .get("/api/v1/users/")
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let create = app
            .post("/api/v1/users/")
            .bearer_auth(&user.access)
            .json(&json!({"username": format!("n{}", role.as_str()), "password": "Conakry-2026!", "role": "PARENT"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let expected_list = if matches!(role, Role::Admin | Role::Direction | Role::Bibliothecaire)
        {
            200
        } else {
            403
        };
        let expected_create = if *role == Role::Admin { 201 } else { 403 };
        assert_eq!((list, create), (expected_list, expected_create), "{role}");
        let me = app
            .get("/api/v1/users/me")
            .bearer_auth(&user.access)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
    }
}

#[tokio::test]
async fn me_patch_changes_only_the_email() {
    let app = TestApp::new().await;
    let parent = app.as_role(Role::Parent).await;
    // A new phone number goes through users/me/telephone/ (a code sent to it): refused here,
    // and the whole request changes nothing.
    let res = app
        .patch("/api/v1/users/me/")
        .bearer_auth(&parent.access)
        .json(&json!({"email": "nouvelle@ecole.gn", "telephone": "+224 628 00 00 01"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.get("telephone").is_some(), "{body}");
    let res = app
        .patch("/api/v1/users/me/")
        .bearer_auth(&parent.access)
        .json(&json!({"email": "nouvelle@ecole.gn", "telephone": parent.user.telephone}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "nouvelle@ecole.gn");
    assert_eq!(body["telephone"], json!(parent.user.telephone));
    let res = app
        .patch("/api/v1/users/me/")
        .bearer_auth(&parent.access)
        .json(&json!({"role": "ADMIN"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 400);
    assert!(body.get("role").is_some());
    let (_, me) = json_of(
        app.get("/api/v1/users/me/")
            .bearer_auth(&parent.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["role"], "PARENT");
    let res = app
        .patch("/api/v1/users/me/")
        .bearer_auth(&parent.access)
        .json(&json!({"email": "pas-un-email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn list_filters_search_ordering_and_pages() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    for i in 0..7 {
        app.user()
            .role(Role::Parent)
            .username(&format!("parent{i}"))
            .names("Fanta", &format!("Camara{i}"))
            .create()
            .await;
    }
    app.user()
        .role(Role::Enseignant)
        .username("prof")
        .names("Alpha", "Condé")
        .create()
        .await;
    let get = |q: &str| {
        let req = app
            .get(&format!("/api/v1/users/{q}"))
            .bearer_auth(&admin.access);
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (s, b) = get("?role=PARENT&page_size=3").await;
    assert_eq!(s, 200);
    assert_eq!(b["count"], 7);
    assert_eq!(b["results"].as_array().unwrap().len(), 3);
    let next = b["next"].as_str().unwrap();
    assert!(
        next.contains("page=2") && next.contains("role=PARENT") && next.contains("/api/v1/users/?"),
        "{next}"
    );
    let (s, b2) = get("?role=PARENT&page_size=3&page=2").await;
    assert_eq!(s, 200);
    assert!(!b2["previous"].as_str().unwrap().contains("page="));
    let (s, b3) = get("?role=PARENT&page_size=3&page=3").await;
    assert_eq!((s, b3["next"].clone()), (200, Value::Null));
    assert_eq!(b3["results"].as_array().unwrap().len(), 1);
    let (s, b) = get("?role=PARENT&page_size=3&page=4").await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
    let (s, _) = get("?page=abc").await;
    assert_eq!(s, 404);
    let (_, b) = get("?page_size=100000").await;
    assert_eq!(b["results"].as_array().unwrap().len(), 9);

    let (_, b) = get("?search=condé").await;
    assert_eq!(b["count"], 1);
    let (_, b) = get("?search=fanta%20camara3").await;
    assert_eq!(b["count"], 1);
    let (_, b) = get("?search=%25").await;
    assert_eq!(b["count"], 0, "% is a literal");
    let (_, b) = get("?role=PARENT&ordering=-last_name").await;
    assert_eq!(b["results"][0]["last_name"], "Camara6");
    let (s, b) = get("?ordering=password_hash").await;
    assert_eq!(s, 400);
    assert!(b.get("ordering").is_some());
    let (s, b) = get("?role=ROI&is_active=peut-etre").await;
    assert_eq!(s, 400);
    assert!(b.get("role").is_some() && b.get("is_active").is_some());
}

// ---------- the REST contract ----------

#[tokio::test]
async fn bad_bodies_get_the_contract_errors() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    let post = || app.post("/api/v1/users/").bearer_auth(&admin.access);

    let (s, b) = json_of(
        post()
            .header("content-type", "application/json")
            .body("{\"username\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(b["non_field_errors"][0].as_str().unwrap().contains("JSON"));
    let (s, b) = json_of(post().json(&json!({"username": "a", "password": "Conakry-2026!", "role": "PARENT", "is_superuser": true})).send().await.unwrap()).await;
    assert_eq!(s, 400);
    assert!(b.get("is_superuser").is_some(), "{b}");
    let (s, b) = json_of(
        post()
            .json(&json!({"username": 12, "password": "Conakry-2026!", "role": "PARENT"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(b["username"][0].as_str().unwrap().contains("chaîne"), "{b}");
    let (s, b) = json_of(
        post()
            .json(&json!({"password": "Conakry-2026!", "role": "PARENT"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["username"][0], "Ce champ est obligatoire.");
    let (s, b) = json_of(
        post()
            .header("content-type", "text/plain")
            .body("bonjour")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let (s, b) = json_of(post().send().await.unwrap()).await;
    assert_eq!(s, 415, "{b}");
    let big = format!("{{\"username\": \"{}\"}}", "a".repeat(1_100_000));
    let (s, b) = json_of(
        post()
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (413, Some("payload_too_large")));
    let (s, _) = json_of(post().json(&json!([1, 2])).send().await.unwrap()).await;
    assert_eq!(s, 400);
    // Nothing was created.
    let (_, list) = json_of(
        app.get("/api/v1/users/")
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn paths_headers_and_unknown_routes() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    for path in [
        "/api/v1/users/me/",
        "/api/v1/users/me",
        "/api/v1/users/",
        "/api/v1/users",
    ] {
        let res = app
            .get(path)
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h.get("server").is_none());
        assert_eq!(h["x-request-id"].to_str().unwrap().len(), 32);
    }
    let res = app
        .get("/api/v1/nexiste-pas/")
        .header("x-request-id", "abc-123-def-456")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123-def-456");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let (s, b) = json_of(res).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
    let (s, b) = json_of(
        app.delete("/api/v1/users/me/")
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (405, Some("method_not_allowed")));
    let (s, _) = json_of(
        app.get("/api/v1/users/abc/")
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = json_of(
        app.get("/api/v1/users/99999999999999999999/")
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let app = TestApp::new().await; // CORS_ALLOWED_ORIGINS = https://app.ecole.test
    let res = app
        .get("/health/live")
        .header("origin", "https://app.ecole.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.ecole.test"
    );
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/users/"))
        .header("origin", "https://app.ecole.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.ecole.test"
    );
    for bad in ["https://evil.example", "null"] {
        let res = app
            .get("/health/live")
            .header("origin", bad)
            .send()
            .await
            .unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{bad}"
        );
        let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{bad}: {content_type}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    }
}

// ---------- health, metrics, docs ----------

#[tokio::test]
async fn health_metrics_and_docs() {
    let app = TestApp::new().await;
    let (s, b) = json_of(app.get("/health/live").send().await.unwrap()).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ok")));
    let (s, b) = json_of(app.get("/health/ready").send().await.unwrap()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["postgresql"], "ok");
    assert_eq!(b["redis"], "ok");

    let admin = app.as_admin().await;
    app.get("/api/v1/users/me/")
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "ecole_http_requests_total{method=\"GET\",route=\"/api/v1/users/me\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("ecole_http_request_duration_seconds_bucket"));

    let (s, doc) = json_of(app.get("/api/v1/openapi.json").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/users/me/"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/auth/login/"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["jwt"].is_object());
    let res = app.get("/api/v1/docs/").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn ready_is_503_when_redis_or_postgres_is_unreachable() {
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app =
        TestApp::with_settings(|s| s.redis_url = format!("redis://127.0.0.1:{closed_port}/0"))
            .await;
    let (s, b) = json_of(app.get("/health/ready").send().await.unwrap()).await;
    assert_eq!(s, 503);
    assert_eq!(
        (b["postgresql"].as_str(), b["redis"].as_str()),
        (Some("ok"), Some("injoignable"))
    );

    let app = TestApp::with_settings(|s| {
        s.database_url = format!("postgres://postgres@127.0.0.1:{closed_port}/x")
    })
    .await;
    let started = std::time::Instant::now();
    let (s, b) = json_of(app.get("/health/ready").send().await.unwrap()).await;
    assert_eq!(s, 503);
    assert_eq!(b["postgresql"], "injoignable");
    // An API call fails fast with 503, not a hang and not a 500.
    let (s, b) = json_of(
        app.get("/api/v1/users/me/")
            .bearer_auth("x.y.z")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401, "{b}");
    let (s, b) = json_of(
        app.post("/api/v1/auth/login/")
            .json(&json!({"username": "a", "password": "b"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (503, Some("service_unavailable")));
    assert!(started.elapsed() < Duration::from_secs(10));
}

// ---------- jobs ----------

#[tokio::test]
async fn job_status_for_its_requester_and_management_only() {
    let app = TestApp::new().await;
    let admin = app.as_admin().await;
    let res = app
        .post("/api/v1/jobs/")
        .bearer_auth(&admin.access)
        .json(&json!({"name": "core.debug", "payload": {"message": "bonjour"}}))
        .send()
        .await
        .unwrap();
    let (status, accepted) = json_of(res).await;
    assert_eq!(status, 202, "{accepted}");
    let url = accepted["status_url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!("/api/v1/jobs/{}/", accepted["job_id"].as_str().unwrap())
    );
    let (status, job) = json_of(
        app.get(&url)
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(job["name"], "core.debug");
    assert_eq!(job["status"], "EN_ATTENTE");
    assert_eq!(job["progress"], json!({"done": 0, "total": null}));
    assert_eq!(job["finished_at"], Value::Null);
    assert!(job["created_at"].as_str().unwrap().ends_with("+00:00"));

    let direction = app.as_role(Role::Direction).await;
    assert_eq!(
        app.get(&url)
            .bearer_auth(&direction.access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for role in [Role::Enseignant, Role::Parent, Role::Comptable] {
        let other = app.as_role(role).await;
        assert_eq!(
            app.get(&url)
                .bearer_auth(&other.access)
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{role}"
        );
        let res = app
            .post("/api/v1/jobs/")
            .bearer_auth(&other.access)
            .json(&json!({"name": "core.debug"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{role}");
    }
    assert_eq!(app.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        app.get("/api/v1/jobs/999999/")
            .bearer_auth(&admin.access)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let (s, b) = json_of(
        app.post("/api/v1/jobs/")
            .bearer_auth(&admin.access)
            .json(&json!({"name": "rm -rf"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(b.get("name").is_some());
    let (s, b) = json_of(
        app.post("/api/v1/jobs/")
            .bearer_auth(&admin.access)
            .json(&json!({"name": "pedagogie.generer_bulletin_pdf", "payload": {"bulletin": "x"}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(b.get("payload").is_some());
}

#[path = "api/pedagogie.rs"]
mod pedagogie;

#[path = "api/bulletins.rs"]
mod bulletins;

#[path = "api/droits.rs"]
mod droits;

#[path = "api/bulletins_conseil.rs"]
mod bulletins_conseil;

#[path = "api/bulletins_corrections.rs"]
mod bulletins_corrections;

#[path = "api/bulletins_reference.rs"]
mod bulletins_reference;

#[path = "api/contrat.rs"]
mod contrat;

/// A session the server ends (as a fast shutdown or a restart does) is a 503 cause, never a
/// 500: both for the statement running at that moment and for the next one on the dead link.
#[tokio::test]
async fn a_connection_ended_by_the_server_is_unavailable_not_internal() {
    use diesel::QueryableByName;
    use diesel::sql_types::Integer;
    use ecole_core::DomainError;

    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let app = TestApp::new().await;
    let mut victim = app.conn().await;
    let mut killer = app.conn().await;
    let pid: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut victim)
        .await
        .unwrap();
    let running = tokio::spawn(async move {
        let r = diesel::sql_query("SELECT pg_sleep(10)")
            .execute(&mut victim)
            .await;
        (r, victim)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<Integer, _>(pid.pid)
        .execute(&mut killer)
        .await
        .unwrap();
    let (in_flight, mut victim) = running.await.unwrap();
    let e = DomainError::from(in_flight.unwrap_err());
    assert!(matches!(e, DomainError::Unavailable(_)), "{e:?}");
    let next = diesel::sql_query("SELECT 1").execute(&mut victim).await;
    let e = DomainError::from(next.unwrap_err());
    assert!(matches!(e, DomainError::Unavailable(_)), "{e:?}");
}
