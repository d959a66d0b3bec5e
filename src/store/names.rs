//! The registered name of each organisation on the routes, as the last sweep that saw it
//! read it from Enhetsregisteret. Owns the `organisation_names` table. Names are public
//! register data; a sole proprietorship's (`ENK`) name is a person's and is never kept
//! (deciding that is [`crate::sweep`]'s caller's: only names passed here are stored).

use std::collections::BTreeMap;

use super::codec::{org, stamp};
use super::sql::{DbError, params};
use super::{Store, StoreError};
use crate::model::OrgNumber;
use jiff::Timestamp;

impl Store {
    /// Keeps `names` as seen at `at`, one transaction: a new or changed name is written
    /// with `at`, an unchanged one is left alone, and others stay (an organisation that
    /// left the routes keeps its last name).
    ///
    /// # Errors
    /// The database failed.
    pub fn record_names(
        &mut self,
        names: &[(OrgNumber, String)],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let path = self.path.display().to_string();
        let err = |e: DbError| StoreError {
            path: path.clone(),
            reason: e.to_string(),
        };
        let tx = self.db.begin().map_err(err)?;
        {
            let mut st = self
                .db
                .prepare_cached(
                    // A name that did not change is left as it is: every sweep passes every
                    // name, and rewriting them all would only churn the file.
                    "INSERT INTO organisation_names (org, name, seen_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (org) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at
                     WHERE organisation_names.name IS DISTINCT FROM excluded.name",
                )
                .map_err(err)?;
            let at = stamp(at);
            for (o, name) in names {
                st.execute(params![i64::from(o.get()), name, at])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Every kept name, by organisation.
    ///
    /// # Errors
    /// The database failed or a row is corrupt.
    pub fn names(&self) -> Result<BTreeMap<OrgNumber, String>, StoreError> {
        self.db
            .query_map("SELECT org, name FROM organisation_names", params![], |r| {
                Ok((org(r.i64(0)?)?, r.string(1)?))
            })
            .map(|rows| rows.into_iter().collect())
            .map_err(|e| self.err(e))
    }
}
