//! `reachcheck onboard`'s output: per organisation its state, since when and its own
//! approval link (shown on its row only, and only while it is pending); then those to
//! follow up. Table, JSON and CSV.

use std::io::{self, Write};

use super::{OnboardingRecord, OnboardingRun};

fn day(t: Option<jiff::Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

fn recipients(r: &OnboardingRecord) -> String {
    r.recipients
        .iter()
        .filter(|o| **o != r.org)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl OnboardingRun {
    /// One line per organisation, a summary, and the follow-up list.
    ///
    /// # Errors
    /// Writing failed.
    pub fn table(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "{:<11} {:<12} {:<9} {:<21} approval link",
            "org", "state", "status", "since"
        )?;
        for r in &self.organisations {
            writeln!(
                w,
                "{:<11} {:<12} {:<9} {:<21} {}",
                r.org,
                r.state.as_str(),
                r.status.map_or("-", super::RequestStatus::as_str),
                day(r.since),
                r.approval_link.as_deref().unwrap_or("-"),
            )?;
            let subs = recipients(r);
            if !subs.is_empty() {
                writeln!(w, "    for sub-units: {subs}")?;
            }
            if let Some(e) = &r.error {
                writeln!(w, "    error: {e}")?;
            }
        }
        let count =
            |s: super::OnboardingState| self.organisations.iter().filter(|r| r.state == s).count();
        use super::OnboardingState as S;
        writeln!(
            w,
            "\n{} organisations: {} approved, {} pending, {} refused, {} expired, {} never asked; {} requests created, {} failed",
            self.organisations.len(),
            count(S::Approved),
            count(S::Pending),
            count(S::Refused),
            count(S::Expired),
            count(S::NeverAsked),
            self.created,
            self.failed()
        )?;
        if !self.other_system_users.is_empty() {
            writeln!(
                w,
                "approved but not in the routing table: {}",
                self.other_system_users
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            )?;
        }
        let follow = self.follow_up();
        if !follow.is_empty() {
            writeln!(
                w,
                "\npending for more than {} (follow up: send each its own link):",
                humantime::format_duration(self.remind_after)
            )?;
            for r in follow {
                writeln!(
                    w,
                    "  {} since {} {}",
                    r.org,
                    day(r.created.or(r.since)),
                    r.approval_link.as_deref().unwrap_or("-")
                )?;
            }
        }
        Ok(())
    }

    /// Everything, for programs.
    ///
    /// # Errors
    /// Writing failed.
    pub fn json(&self, w: &mut dyn Write) -> io::Result<()> {
        let follow: Vec<String> = self.follow_up().iter().map(|r| r.org.to_string()).collect();
        let v = serde_json::json!({
            "at": self.at, "system_id": self.system_id, "created": self.created,
            "failed": self.failed(),
            "remind_after": humantime::format_duration(self.remind_after).to_string(),
            "organisations": self.organisations, "follow_up": follow,
            "other_system_users": self.other_system_users,
        });
        serde_json::to_writer_pretty(&mut *w, &v)?;
        writeln!(w)
    }

    /// One row per organisation.
    ///
    /// # Errors
    /// Writing failed.
    pub fn csv(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut c = csv::Writer::from_writer(w);
        c.write_record([
            "org",
            "state",
            "status",
            "since",
            "request_id",
            "approval_link",
            "follow_up",
            "sub_units",
            "error",
        ])?;
        for r in &self.organisations {
            c.write_record([
                r.org.to_string(),
                r.state.as_str().to_owned(),
                r.status.map_or("", super::RequestStatus::as_str).to_owned(),
                day(r.since),
                r.request_id.clone().unwrap_or_default(),
                r.approval_link.clone().unwrap_or_default(),
                r.needs_reminder(self.at, self.remind_after).to_string(),
                recipients(r),
                r.error.clone().unwrap_or_default(),
            ])?;
        }
        c.flush()
    }
}
