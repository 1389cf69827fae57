//! Builders of test data.

use diesel_async::AsyncPgConnection;
use ecole_core::Role;
use ecole_users::User;
use ecole_users::repo::{self, NewUserRow};
use ecole_users::service::{ClientInfo, open_session};
use tokio::sync::OnceCell;

use crate::{DEFAULT_PASSWORD, TestApp};

/// A user and a valid token pair.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub user: User,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access)
    }
}

/// The hash of [`DEFAULT_PASSWORD`], computed once per process (argon2 is slow on purpose).
async fn default_hash() -> &'static str {
    static HASH: OnceCell<String> = OnceCell::const_new();
    HASH.get_or_init(|| async {
        match ecole_users::password::hash_password(DEFAULT_PASSWORD).await {
            Ok(h) => h,
            Err(e) => panic!("hachage : {e}"),
        }
    })
    .await
}

pub struct UserBuilder<'a> {
    app: &'a TestApp,
    role: Role,
    username: Option<String>,
    email: Option<String>,
    first_name: String,
    last_name: String,
    telephone: Option<String>,
    active: bool,
}

impl<'a> UserBuilder<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        UserBuilder {
            app,
            role: Role::Admin,
            username: None,
            email: None,
            first_name: "Mamadou".into(),
            last_name: "Diallo".into(),
            telephone: None,
            active: true,
        }
    }

    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.into());
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.into());
        self
    }

    pub fn names(mut self, first: &str, last: &str) -> Self {
        self.first_name = first.into();
        self.last_name = last.into();
        self
    }

    pub fn telephone(mut self, phone: &str) -> Self {
        self.telephone = Some(phone.into());
        self
    }

    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Inserts the user (password [`DEFAULT_PASSWORD`]) and opens a session.
    pub async fn create(self) -> TestUser {
        let mut conn = self.app.conn().await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let username = self
            .username
            .unwrap_or_else(|| format!("{}_{}", self.role.as_str().to_lowercase(), &suffix[..8]));
        let email = self
            .email
            .unwrap_or_else(|| format!("{username}@ecole.test"));
        let user = insert(
            &mut conn,
            NewUserRow {
                username: &username,
                email: Some(&email),
                password_hash: default_hash().await,
                first_name: &self.first_name,
                last_name: &self.last_name,
                role: self.role,
                telephone: self.telephone.as_deref(),
                is_active: self.active,
            },
        )
        .await;
        let client = ClientInfo {
            ip: "127.0.0.1".into(),
            user_agent: Some("tests".into()),
        };
        let tokens = match open_session(&mut conn, &self.app.state.keys, &user, &client).await {
            Ok(t) => t,
            Err(e) => panic!("session de test : {e}"),
        };
        TestUser {
            user,
            password: DEFAULT_PASSWORD.into(),
            access: tokens.access,
            refresh: tokens.refresh,
        }
    }
}

async fn insert(conn: &mut AsyncPgConnection, row: NewUserRow<'_>) -> User {
    match repo::insert(conn, row).await {
        Ok(u) => u,
        Err(e) => panic!("insertion d'un utilisateur de test : {e}"),
    }
}
