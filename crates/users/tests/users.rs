//! The seed's model tests (§8.2) and the users service against a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use ecole_core::{DomainError, Role};
use ecole_test_support::TestDb;
use ecole_users::NewUserInput;
use ecole_users::service;

fn input(username: &str, password: &str, role: Role) -> NewUserInput {
    NewUserInput {
        username: username.into(),
        email: Some(format!("{username}@example.com")),
        password: password.into(),
        first_name: "John".into(),
        last_name: "Doe".into(),
        role,
        telephone: None,
        is_active: None,
    }
}

#[tokio::test]
async fn test_create_user() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let mut new = input("test", "testpass123", Role::Eleve);
    new.email = Some("test@example.com".into());
    new.first_name = "Test".into();
    new.last_name = "User".into();
    let user = service::create_user(&mut conn, None, &new).await.unwrap();
    assert_eq!(user.email.as_deref(), Some("test@example.com"));
    assert!(user.is_eleve());
    assert!(
        ecole_users::password::verify_password("testpass123", Some(&user.password_hash))
            .await
            .unwrap()
    );
    assert!(
        !ecole_users::password::verify_password("wrongpass123", Some(&user.password_hash))
            .await
            .unwrap()
    );
    assert!(user.password_hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn test_user_full_name() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let user = service::create_user(
        &mut conn,
        None,
        &input("john", "pass-longue-123", Role::Admin),
    )
    .await
    .unwrap();
    assert_eq!(user.get_full_name(), "John Doe");
}

#[tokio::test]
async fn create_user_validates_and_keeps_usernames_unique() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    // The seed's own 'pass' is refused now: 10 characters at least.
    let err = service::create_user(&mut conn, None, &input("john", "pass", Role::Admin))
        .await
        .unwrap_err();
    let DomainError::Validation(errors) = err else {
        panic!("validation attendue")
    };
    assert!(errors.0["password"][0].contains("trop court"));
    let err = service::create_user(
        &mut conn,
        None,
        &input("alpha.bah", "alpha.bah", Role::Admin),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DomainError::Validation(ref e) if e.0.contains_key("password")));

    service::create_user(
        &mut conn,
        None,
        &input("Fatou", "mot-de-passe-1", Role::Parent),
    )
    .await
    .unwrap();
    let mut dup = input("fatou", "mot-de-passe-1", Role::Parent);
    dup.email = Some("autre@example.com".into());
    let err = service::create_user(&mut conn, None, &dup)
        .await
        .unwrap_err();
    let DomainError::Validation(errors) = err else {
        panic!("validation attendue")
    };
    assert!(errors.0.contains_key("username"), "{errors:?}");
    let mut dup_email = input("fatou2", "mot-de-passe-1", Role::Parent);
    dup_email.email = Some("FATOU@example.com".into());
    let err = service::create_user(&mut conn, None, &dup_email)
        .await
        .unwrap_err();
    let DomainError::Validation(errors) = err else {
        panic!("validation attendue")
    };
    assert!(errors.0.contains_key("email"), "{errors:?}");
}

#[tokio::test]
async fn phone_numbers_are_stored_in_e164() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let mut new = input("kadiatou", "mot-de-passe-1", Role::Parent);
    new.telephone = Some("621 00 00 00".into());
    let user = service::create_user(&mut conn, None, &new).await.unwrap();
    assert_eq!(user.telephone.as_deref(), Some("+224621000000"));
    let mut bad = input("kadiatou2", "mot-de-passe-1", Role::Parent);
    bad.telephone = Some("12".into());
    assert!(matches!(
        service::create_user(&mut conn, None, &bad).await,
        Err(DomainError::Validation(e)) if e.0.contains_key("telephone")
    ));
}
