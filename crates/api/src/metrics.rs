//! Prometheus metrics: requests by route and status, and their latency.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("ecole".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "Requêtes HTTP traitées, par route et statut",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Durée des requêtes HTTP").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["method", "route", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
        })
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The jobs' figures in the text format (a registry per scrape: they are read from the
/// database, not counted by this process). Every known job name appears, at 0 if need be.
pub fn render_jobs(
    counts: &[ecole_jobs::stats::Comptage],
    outbox: &ecole_jobs::stats::Outbox,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, prometheus::Error> {
    use ecole_jobs::JobStatus;
    let registry = Registry::new_custom(Some("ecole".into()), None)?;
    let gauge = |name: &str, help: &str| -> Result<IntGaugeVec, prometheus::Error> {
        let g = IntGaugeVec::new(Opts::new(name, help), &["name"])?;
        registry.register(Box::new(g.clone()))?;
        Ok(g)
    };
    let queued = gauge("jobs_queued", "Jobs en attente (EN_ATTENTE), par nom")?;
    let running = gauge("jobs_running", "Jobs en cours (EN_COURS), par nom")?;
    let succeeded = gauge("jobs_succeeded", "Jobs réussis (SUCCES), par nom")?;
    let failed = gauge("jobs_failed", "Jobs en échec définitif (ECHEC), par nom")?;
    let retried = gauge(
        "jobs_retried",
        "Nouvelles tentatives (exécutions au-delà de la première), par nom",
    )?;
    for name in ecole_jobs::payloads::KNOWN_JOBS {
        for g in [&queued, &running, &succeeded, &failed, &retried] {
            g.with_label_values(&[*name]).set(0);
        }
    }
    for c in counts {
        let labels = [c.name.as_str()];
        let target = match c.status.parse::<JobStatus>() {
            Ok(JobStatus::EnAttente) => &queued,
            Ok(JobStatus::EnCours) => &running,
            Ok(JobStatus::Succes) => &succeeded,
            Ok(JobStatus::Echec) => &failed,
            Err(_) => continue,
        };
        target.with_label_values(&labels).add(c.jobs);
        retried.with_label_values(&labels).add(c.retries);
    }
    let backlog = IntGauge::new(
        "outbox_backlog",
        "Jobs validés et dus, pas encore transmis à Redis par le relais",
    )?;
    backlog.set(outbox.backlog);
    registry.register(Box::new(backlog))?;
    let oldest = IntGauge::new(
        "outbox_oldest_seconds",
        "Âge du plus ancien job dû en attente du relais (0 si aucun)",
    )?;
    oldest.set(
        outbox
            .oldest
            .map(|t| (now - t).num_seconds().max(0))
            .unwrap_or(0),
    );
    registry.register(Box::new(oldest))?;
    let mut buffer = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut buffer)?;
    Ok(String::from_utf8(buffer).unwrap_or_default())
}
