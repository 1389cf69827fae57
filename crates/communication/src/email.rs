//! E-mail with lettre: `SMTP_URL` (`smtp://`, `smtp://…?tls=required` for STARTTLS,
//! `smtps://`, with `user:password@`), a pooled transport per worker; without `SMTP_URL`
//! outside production, messages are written to the log (Django's console backend).

use ecole_config::Settings;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::envoi::ErreurEnvoi;

/// What an e-mail says, before it becomes MIME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Courriel {
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
}

enum Backend {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Console,
    /// Production without `SMTP_URL`: every e-mail fails with this reason.
    Missing,
}

pub struct Mailer {
    backend: Backend,
    from: Mailbox,
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The contents of a notification e-mail, in French, signed with the school's name.
pub struct Contenu<'a> {
    pub school: &'a str,
    pub recipient_name: &'a str,
    pub titre: &'a str,
    pub message: &'a str,
    /// An absolute link, when there is one.
    pub link: Option<&'a str>,
}

impl Contenu<'_> {
    pub fn subject(&self) -> String {
        format!("{} — {}", self.titre, self.school)
    }

    pub fn text(&self) -> String {
        let mut out = format!("Bonjour {},\n\n{}\n", self.recipient_name, self.message);
        if let Some(link) = self.link {
            out.push_str(&format!("\nPour en savoir plus : {link}\n"));
        }
        out.push_str(&format!(
            "\n-- \n{}\nCe message a été envoyé automatiquement, merci de ne pas y répondre.\n",
            self.school
        ));
        out
    }

    pub fn html(&self) -> String {
        let paragraphs: String = self
            .message
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", html_escape(p).replace('\n', "<br>")))
            .collect();
        let link = self
            .link
            .map(|l| {
                let l = html_escape(l);
                format!("<p><a href=\"{l}\">Pour en savoir plus</a></p>")
            })
            .unwrap_or_default();
        format!(
            "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
<body style=\"font-family: Arial, sans-serif; color: #222; max-width: 600px;\">\
<h2 style=\"color: #1a5c2e;\">{school}</h2><p>Bonjour {name},</p>{paragraphs}{link}\
<hr><p style=\"font-size: 12px; color: #666;\">{school} — ce message a été envoyé automatiquement, merci de ne pas y répondre.</p>\
</body></html>\n",
            title = html_escape(self.titre),
            school = html_escape(self.school),
            name = html_escape(self.recipient_name),
        )
    }
}

/// Sorts an SMTP failure by whether the message may have gone out.
fn smtp_error(e: &lettre::transport::smtp::Error) -> ErreurEnvoi {
    let detail = format!("SMTP : {e}");
    if e.is_permanent() {
        ErreurEnvoi::Definitive(detail)
    } else if e.is_transient() || e.is_tls() || e.is_client() || e.is_transport_shutdown() {
        ErreurEnvoi::Temporaire(detail)
    } else if format!("{e:?}").contains("kind: Connection") {
        // Could not connect: nothing was sent.
        ErreurEnvoi::Temporaire(detail)
    } else {
        // The session broke mid-way (network, timeout, unreadable reply).
        ErreurEnvoi::Incertaine(detail)
    }
}

impl Mailer {
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let from: Mailbox = settings.default_from_email.parse().map_err(|e| {
            format!(
                "DEFAULT_FROM_EMAIL « {} » invalide : {e}",
                settings.default_from_email
            )
        })?;
        let backend = match &settings.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| format!("SMTP_URL invalide : {e}"))?
                    .timeout(Some(settings.smtp_timeout))
                    .pool_config(
                        PoolConfig::new().max_size(settings.worker_concurrency.max(1) as u32 * 2),
                    )
                    .build();
                Backend::Smtp(transport)
            }
            None if settings.app_env.is_production() => Backend::Missing,
            None => Backend::Console,
        };
        Ok(Mailer { backend, from })
    }

    /// The domain of the sender's address (for Message-ID).
    pub fn from_domain(&self) -> String {
        self.from.email.domain().to_string()
    }

    pub fn build(&self, c: &Courriel) -> Result<Message, ErreurEnvoi> {
        let address: Address = c.to_email.trim().parse().map_err(|e| {
            ErreurEnvoi::Definitive(format!("adresse e-mail « {} » invalide : {e}", c.to_email))
        })?;
        let to = Mailbox::new(Some(c.to_name.clone()).filter(|n| !n.is_empty()), address);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(c.subject.clone())
            .message_id(Some(c.message_id.clone()))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                c.text.clone(),
                c.html.clone(),
            ))
            .map_err(|e| ErreurEnvoi::Definitive(format!("e-mail impossible à construire : {e}")))
    }

    /// Sends the message; `Ok` carries its Message-ID.
    pub async fn send(&self, c: &Courriel) -> Result<String, ErreurEnvoi> {
        match &self.backend {
            Backend::Missing => Err(ErreurEnvoi::Definitive(
                "SMTP_URL n'est pas configurée : aucun e-mail ne peut partir".into(),
            )),
            Backend::Console => {
                self.build(c)?;
                tracing::info!(email.to = %c.to_email, email.subject = %c.subject, email.message_id = %c.message_id,
                    "e-mail (console, SMTP_URL non définie) :\n{}", c.text);
                Ok(c.message_id.clone())
            }
            Backend::Smtp(transport) => {
                let message = self.build(c)?;
                transport.send(message).await.map_err(|e| smtp_error(&e))?;
                Ok(c.message_id.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_french_and_escaped() {
        let c = Contenu {
            school: "Groupe scolaire <Les Élites>",
            recipient_name: "Mamadou Diallo",
            titre: "Bulletin du 1er trimestre",
            message: "Le bulletin d'Aïssatou est disponible.\n\nMoyenne : 14,5 & rang 3.",
            link: Some("https://ecole.gn/api/v1/bulletins/3/"),
        };
        assert_eq!(
            c.subject(),
            "Bulletin du 1er trimestre — Groupe scolaire <Les Élites>"
        );
        let text = c.text();
        assert!(text.starts_with("Bonjour Mamadou Diallo,\n\nLe bulletin d'Aïssatou"));
        assert!(text.contains("Pour en savoir plus : https://ecole.gn/api/v1/bulletins/3/"));
        let html = c.html();
        assert!(html.contains("&lt;Les Élites&gt;"));
        assert!(html.contains("<p>Moyenne : 14,5 &amp; rang 3.</p>"));
        assert!(html.contains("lang=\"fr\""));
    }

    #[test]
    fn production_without_smtp_refuses_and_bad_sender_is_reported() {
        let mut settings = Settings::from_vars(
            [
                ("APP_ENV", "production"),
                ("SECRET_KEY", "Zx8#kP2m!Qv7@Lr4$Tn9^Wb3&Hy6*Jd1(Fs5)Gc0"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mailer = Mailer::new(&settings).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(mailer.backend, Backend::Missing));
        settings.default_from_email = "pas une adresse".into();
        assert!(Mailer::new(&settings).is_err());
    }
}
