//! The communication jobs, registered in the worker's registry.

use ecole_jobs::payloads::{
    EnvoyerCodeTelephone, EnvoyerEmailNotification, EnvoyerNotificationAbsence,
    EnvoyerSmsNotification, NotifierAbsencesQuotidiennes,
};
use ecole_jobs::{JobContext, Registry};

use crate::livraison::{self, Lazy};
use crate::{absences, code_telephone};

/// Registers the e-mail, SMS, phone-code and absence jobs; the providers are built once per
/// registry.
pub fn register(registry: &mut Registry) {
    let services = Lazy::default();
    let email = services.clone();
    registry.register::<EnvoyerEmailNotification, _, _>(move |ctx: JobContext| {
        let services = email.clone();
        async move {
            let args: EnvoyerEmailNotification = ctx.payload()?;
            let services = services.get(&ctx).await?;
            livraison::envoyer_email(&ctx, &services, args.notification_id).await
        }
    });
    let code = services.clone();
    registry.register::<EnvoyerCodeTelephone, _, _>(move |ctx: JobContext| {
        let services = code.clone();
        async move {
            let args: EnvoyerCodeTelephone = ctx.payload()?;
            let services = services.get(&ctx).await?;
            code_telephone::envoyer_code_telephone(&ctx, &services, args.confirmation_id).await
        }
    });
    let sms = services;
    registry.register::<EnvoyerSmsNotification, _, _>(move |ctx: JobContext| {
        let services = sms.clone();
        async move {
            let args: EnvoyerSmsNotification = ctx.payload()?;
            let services = services.get(&ctx).await?;
            livraison::envoyer_sms(&ctx, &services, args.notification_id).await
        }
    });
    registry.register::<EnvoyerNotificationAbsence, _, _>(|ctx: JobContext| async move {
        let args: EnvoyerNotificationAbsence = ctx.payload()?;
        absences::envoyer_notification_absence(&ctx, args.presence_id).await
    });
    registry.register::<NotifierAbsencesQuotidiennes, _, _>(|ctx: JobContext| async move {
        let _: NotifierAbsencesQuotidiennes = ctx.payload()?;
        absences::notifier_absences_quotidiennes(&ctx).await
    });
}
