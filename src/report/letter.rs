//! The remediation letter to one recipient: which message types nobody there can read and
//! from whom, which access package or role to delegate (by its Altinn name), who at the
//! recipient can delegate it (by role), the steps in Altinn, and whom to contact.
//!
//! Built from the store's last sweep of the period (what is wrong) and the policies (what
//! would fix it). Like the report, it names organisations, roles and access packages, never
//! people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::render::{STYLE, esc};
use super::text::Lang;
use super::{AsOf, Period, ReportError};
use crate::model::{FindingCode, Grant, MessageTypeId, OrgNumber, ResourceId, Verdict};
use crate::policy::Policies;
use crate::store::Store;

/// One message type the recipient cannot read (or cannot be shown to read).
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The message type.
    pub message_type: MessageTypeId,
    /// Its title.
    pub title: String,
    /// The worst verdict over its senders.
    pub verdict: Verdict,
    /// Who sends it.
    pub senders: Vec<OrgNumber>,
    /// The findings on its routes.
    pub codes: Vec<FindingCode>,
    /// Grants, each alone enough to read every resource of the type (delegable ones).
    pub delegate_any_of: Vec<Vec<Grant>>,
    /// The resources (when no single grant covers them all).
    pub resources: Vec<ResourceId>,
    /// The sender's fallback while it cannot be read.
    pub fallback: Option<String>,
    /// How many persons must be able to read it (`min_readers`).
    pub min_readers: u32,
}

/// A message type that can be read, but by fewer persons than it requires
/// (`too_few_readers`).
#[derive(Clone, Debug, PartialEq)]
pub struct Short {
    /// Its title.
    pub title: String,
    /// The fewest readers found over its routes.
    pub readers: u32,
    /// How many it requires.
    pub min_readers: u32,
}

/// A remediation letter.
#[derive(Clone, Debug, PartialEq)]
pub struct Letter {
    /// The recipient.
    pub recipient: OrgNumber,
    /// The sweep it rests on.
    pub as_of: AsOf,
    /// What cannot be read.
    pub items: Vec<Item>,
    /// Message types that can be read.
    pub readable: Vec<String>,
    /// Of those, the ones fewer persons can read than they require.
    pub short: Vec<Short>,
    /// The names of the recipient and the senders, when known ([`Letter::with_names`]).
    pub names: super::Names,
    /// Nobody at the recipient (or its main unit) will be notified.
    pub no_notification_address: bool,
    /// Whom to contact.
    pub contact: Option<String>,
    /// Every sender of routes to the recipient.
    pub senders: Vec<OrgNumber>,
    /// Messages to the recipient, sent in the period, unread past their deadline (oldest
    /// first).
    pub unread: Vec<super::outcomes::UnreadRow>,
    /// The recipient's own link to approve reachcheck's system user (its main unit's, for
    /// a sub-unit), while the request is pending.
    pub approval_link: Option<String>,
}

/// The delegable clauses that alone let someone read every resource of message type `t`.
fn delegable_everywhere(policies: &Policies, t: usize) -> Vec<Vec<Grant>> {
    let rules = policies.grants();
    let per_resource = policies.read_options(t);
    let delegable = |clause: &Vec<Grant>| {
        !clause.is_empty()
            && clause.iter().all(|g| match g {
                Grant::AccessPackage(_) | Grant::AltinnRole(_) => true,
                Grant::RoleCode(c) => rules.er_role_by_legacy(c).is_none(),
                _ => false,
            })
    };
    let Some(first) = per_resource.first() else {
        return Vec::new();
    };
    let mut out: Vec<Vec<Grant>> = Vec::new();
    for clause in first.iter().filter(|c| delegable(c)) {
        let mut sorted = clause.clone();
        sorted.sort_by_key(ToString::to_string);
        let everywhere = per_resource.iter().all(|clauses| {
            clauses.iter().any(|c| {
                let mut c = c.clone();
                c.sort_by_key(ToString::to_string);
                c == sorted
            })
        });
        if everywhere && !out.contains(&sorted) {
            out.push(sorted);
        }
    }
    // Access packages first: they are what Altinn 3 delegates.
    out.sort_by_key(|c| {
        (
            !c.iter().all(|g| matches!(g, Grant::AccessPackage(_))),
            c.len(),
        )
    });
    out
}

fn grant_name(policies: &Policies, g: &Grant, lang: Lang) -> String {
    let kind = match (lang, g) {
        (Lang::Nb, Grant::AccessPackage(_)) => "tilgangspakken",
        (Lang::En, Grant::AccessPackage(_)) => "the access package",
        (Lang::Nb, _) => "rollen",
        (Lang::En, _) => "the role",
    };
    match policies.grants().names(g) {
        Some(n) => {
            let name = match lang {
                Lang::Nb => n.name.clone(),
                Lang::En => n.name_en.clone().unwrap_or_else(|| n.name.clone()),
            };
            format!("{kind} «{name}» ({g})")
        }
        None => format!("{kind} {g}"),
    }
}

impl Letter {
    /// The letter for `recipient` as of the last sweep of `period` (routes of `senders`,
    /// or all).
    pub fn build(
        store: &Store,
        policies: &Policies,
        recipient: OrgNumber,
        period: Period,
        senders: &[OrgNumber],
        contact: Option<String>,
    ) -> Result<Letter, ReportError> {
        let (_, last, _) = super::sweeps_of(store, period)?;
        let verdicts = store.verdicts_at(last.id)?;
        let ours: Vec<_> = verdicts
            .iter()
            .filter(|v| v.route.recipient == recipient)
            .filter(|v| senders.is_empty() || senders.contains(&v.route.sender))
            .collect();
        if ours.is_empty() {
            return Err(ReportError::UnknownRecipient {
                recipient,
                sweep: last.id,
            });
        }
        let mut by_type: BTreeMap<MessageTypeId, Vec<&crate::store::StoredVerdict>> =
            BTreeMap::new();
        for v in &ours {
            by_type
                .entry(v.route.message_type.clone())
                .or_default()
                .push(v);
        }
        let mut items = Vec::new();
        let mut readable = Vec::new();
        let mut short = Vec::new();
        let mut no_notification_address = false;
        for (t, vs) in by_type {
            let mt = policies.message_type(&t);
            let title = mt.map_or_else(|| t.to_string(), |m| m.title.clone());
            let mut codes: Vec<FindingCode> = vs
                .iter()
                .flat_map(|v| v.findings.iter().map(|f| f.code()))
                .collect();
            codes.sort();
            codes.dedup();
            no_notification_address |= codes.contains(&FindingCode::NoNotificationAddress);
            let worst = vs
                .iter()
                .map(|v| v.verdict)
                .min_by_key(|v| match v {
                    Verdict::NotReadable => 0,
                    Verdict::Unknown => 1,
                    Verdict::Readable => 2,
                })
                .unwrap_or(Verdict::Unknown);
            let min_readers = mt.map_or(1, |m| m.min_readers);
            if worst == Verdict::Readable {
                if codes.contains(&FindingCode::TooFewReaders) {
                    short.push(Short {
                        title: title.clone(),
                        readers: vs.iter().map(|v| v.readers).min().unwrap_or(0),
                        min_readers,
                    });
                }
                readable.push(title);
                continue;
            }
            let index = policies.message_type_index(&t);
            let mut s: Vec<OrgNumber> = vs
                .iter()
                .filter(|v| v.verdict != Verdict::Readable)
                .map(|v| v.route.sender)
                .collect();
            s.sort();
            s.dedup();
            items.push(Item {
                delegate_any_of: index.map_or_else(Vec::new, |i| delegable_everywhere(policies, i)),
                resources: mt.map_or_else(Vec::new, |m| m.resources.clone()),
                fallback: mt.and_then(|m| m.fallback.clone()),
                min_readers,
                message_type: t,
                title,
                verdict: worst,
                senders: s,
                codes,
            });
        }
        // Only the record that stands for this recipient: never another's link.
        let approval_link = store
            .onboarding_of(recipient)?
            .filter(|r| r.state == crate::onboarding::OnboardingState::Pending)
            .and_then(|r| r.approval_link);
        let mut all_senders: Vec<OrgNumber> = ours.iter().map(|v| v.route.sender).collect();
        all_senders.sort();
        all_senders.dedup();
        let at = last.finished_at.unwrap_or(last.started_at);
        let unread = super::outcomes_of(store, Some(policies), period, senders, &[recipient], at)?
            .map(|o| o.unread)
            .unwrap_or_default();
        Ok(Letter {
            unread,
            recipient,
            as_of: AsOf {
                sweep: last.id,
                finished_at: last.finished_at.unwrap_or(last.started_at),
                evidence_taken_at: last.taken_at.unwrap_or(last.started_at),
                source: last.source.clone(),
            },
            items,
            readable,
            short,
            names: super::Names::default(),
            no_notification_address,
            contact,
            senders: all_senders,
            approval_link,
        })
    }

    /// The letter naming its recipient and senders as `names` does.
    pub fn with_names(mut self, names: &super::Names) -> Letter {
        self.names =
            names.only(std::iter::once(self.recipient).chain(self.senders.iter().copied()));
        self
    }

    fn paragraphs(&self, policies: &Policies, lang: Lang) -> Vec<Block> {
        let nb = lang == Lang::Nb;
        let org = self.names.name_first(self.recipient);
        let date = self.as_of.finished_at.strftime("%Y-%m-%d").to_string();
        let mut out = Vec::new();
        let proven_unreadable = self.items.iter().any(|i| i.verdict == Verdict::NotReadable);
        out.push(Block::Title(
            match (nb, self.items.is_empty(), proven_unreadable) {
                (true, true, _) => format!("Meldinger til {org} i Altinn kan leses"),
                (true, false, true) => format!("Meldinger til {org} som ingen kan lese i Altinn"),
                (true, false, false) => {
                    format!("Meldinger til {org} som ingen er vist å kunne lese i Altinn")
                }
                (false, true, _) => format!("Messages to {org} in Altinn can be read"),
                (false, false, true) => format!("Messages to {org} that nobody can read in Altinn"),
                (false, false, false) => {
                    format!("Messages to {org} that nobody is shown to be able to read in Altinn")
                }
            },
        ));
        let sender_names: Vec<String> = self
            .senders
            .iter()
            .map(|o| self.names.name_first(*o))
            .collect();
        let senders = join(&sender_names, lang);
        out.push(Block::Address(if nb {
            vec![
                format!("Til: {org}"),
                format!("Fra: {senders}"),
                format!("Dato: {date}"),
            ]
        } else {
            vec![
                format!("To: {org}"),
                format!("From: {senders}"),
                format!("Date: {date}"),
            ]
        }));
        if self.items.is_empty() {
            out.push(Block::Para(if nb {
                format!("Per {date} kan alle meldingstyper som {senders} sender til {org} gjennom Altinn, leses av minst én person hos dere. Dere trenger ikke gjøre noe for at meldingene skal bli lest.")
            } else {
                format!("As of {date}, every message type that {senders} sends to {org} through Altinn can be read by at least one person at your organisation. Nothing needs doing for the messages to be read.")
            }));
        } else if proven_unreadable {
            out.push(Block::Para(if nb {
                format!("Per {date} sender {senders} meldinger til {org} gjennom Altinn som ingen hos dere har tilgang til å lese. Altinn varsler ingen om dette, og ingen leser meldingene. Dette brevet sier hva som må delegeres, hvem som kan gjøre det og hvordan.")
            } else {
                format!("As of {date}, {senders} sends messages to {org} through Altinn that nobody at your organisation has access to read. Altinn tells nobody about this, and nobody reads the messages. This letter says what must be delegated, who can do it and how.")
            }));
        } else {
            out.push(Block::Para(if nb {
                format!("Per {date} sender {senders} meldinger til {org} gjennom Altinn som det ikke er vist at noen hos dere kan lese. Dette brevet sier hva som må til, hvem som kan gjøre det og hvordan.")
            } else {
                format!("As of {date}, {senders} sends messages to {org} through Altinn that nobody at your organisation is shown to be able to read. This letter says what is needed, who can do it and how.")
            }));
        }
        for s in &self.short {
            out.push(Block::Para(if nb {
                format!(
                    "{}: bare {} {} hos dere kan lese disse meldingene, og avsenderen krever minst {}. Gi tilgangen til flere, så meldingene blir lest også når noen er borte.",
                    s.title,
                    s.readers,
                    if s.readers == 1 { "person" } else { "personer" },
                    s.min_readers
                )
            } else {
                format!(
                    "{}: only {} {} at your organisation can read these messages, and the sender requires at least {}. Give the access to more people, so that the messages are read when someone is away.",
                    s.title,
                    s.readers,
                    if s.readers == 1 { "person" } else { "persons" },
                    s.min_readers
                )
            }));
        }
        for item in &self.items {
            out.push(Block::Heading(format!(
                "{} (`{}`)",
                item.title, item.message_type
            )));
            let from = join(
                &item
                    .senders
                    .iter()
                    .map(|o| self.names.name_first(*o))
                    .collect::<Vec<_>>(),
                lang,
            );
            let mut what = Vec::new();
            what.push(if nb {
                format!("Sendes av: {from}.")
            } else {
                format!("Sent by: {from}.")
            });
            // What only the sender (the resource owner) can fix: nothing to delegate here.
            let senders_to_fix = item.codes.contains(&FindingCode::NotOnAccessList)
                || item.codes.contains(&FindingCode::ResourceNotInAltinn);
            let problem = if item.codes.contains(&FindingCode::NotOnAccessList) {
                if nb {
                    "Tjenesten er begrenset til virksomheter på en tilgangsliste, og dere står ikke på den: Altinn stenger da for alle hos dere, uansett hvilke tilganger dere har. Bare avsenderen (tjenesteeieren) kan føre dere opp; dere trenger ikke endre tilganger for dette.".to_owned()
                } else {
                    "The service is limited to organisations on an access list, and yours is not on it: Altinn then denies everyone at your organisation, whatever access they hold. Only the sender (the service owner) can add you; you need not change any access for this.".to_owned()
                }
            } else if item.codes.contains(&FindingCode::ResourceNotInAltinn) {
                if nb {
                    "Tjenesten finnes ikke i Altinn slik avsenderen har satt den opp. Dette må avsenderen rette; dere trenger ikke gjøre noe.".to_owned()
                } else {
                    "The service does not exist in Altinn as the sender has configured it. The sender must fix this; you need not do anything.".to_owned()
                }
            } else if item.codes.contains(&FindingCode::RecipientDeleted) {
                if nb {
                    "Enheten er slettet i Enhetsregisteret: avsenderen må finne riktig mottaker."
                        .to_owned()
                } else {
                    "The unit is deleted in Enhetsregisteret: the sender must find the right recipient.".to_owned()
                }
            } else if item.verdict == Verdict::NotReadable {
                if nb {
                    "Ingen hos dere har tilgangen som trengs for å lese disse meldingene."
                        .to_owned()
                } else {
                    "Nobody at your organisation holds the access needed to read these messages."
                        .to_owned()
                }
            } else if item.codes.contains(&FindingCode::NotAuthorized) {
                match (&self.approval_link, nb) {
                    (Some(link), true) => format!("Vi kan ikke se hvem som har tilgang hos dere, fordi reachchecks systembruker ikke er godkjent. Godkjenn forespørselen med denne lenken (hovedadministrator eller tilgangsstyrer hos dere): {link} — eller kontroller selv at noen har tilgangen under."),
                    (Some(link), false) => format!("We cannot see who holds access at your organisation because reachcheck's system user is not approved. Approve the request with this link (your main administrator or access manager): {link} — or check yourselves that someone holds the access below."),
                    (None, true) => "Vi kan ikke se hvem som har tilgang hos dere, fordi reachchecks systembruker ikke er godkjent. Godkjenn forespørselen i Altinn, eller kontroller selv at noen har tilgangen under.".to_owned(),
                    (None, false) => "We cannot see who holds access at your organisation because reachcheck's system user is not approved. Approve the request in Altinn, or check yourselves that someone holds the access below.".to_owned(),
                }
            } else if nb {
                "Det er ikke bevist at noen hos dere kan lese disse meldingene (tilgangsdata mangler). Kontroller at noen har tilgangen under.".to_owned()
            } else {
                "It is not proven that anyone at your organisation can read these messages (access data is missing). Check that someone holds the access below.".to_owned()
            };
            what.push(problem);
            out.push(Block::Para(what.join(" ")));
            if !item.codes.contains(&FindingCode::RecipientDeleted) && !senders_to_fix {
                let names: Vec<String> = item
                    .delegate_any_of
                    .iter()
                    .map(|c| {
                        c.iter()
                            .map(|g| grant_name(policies, g, lang))
                            .collect::<Vec<_>>()
                            .join(if nb { " og " } else { " and " })
                    })
                    .collect();
                let delegate = if names.is_empty() {
                    let r = item
                        .resources
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>();
                    if nb {
                        format!(
                            "Deleger ressursene {} direkte til samme person.",
                            join(&r, lang)
                        )
                    } else {
                        format!(
                            "Delegate the resources {} directly to the same person.",
                            join(&r, lang)
                        )
                    }
                } else {
                    let whom = match (nb, item.min_readers) {
                        (true, 0 | 1) => "minst én person".to_owned(),
                        (true, n) => format!("minst {n} personer"),
                        (false, 0 | 1) => "at least one person".to_owned(),
                        (false, n) => format!("at least {n} persons"),
                    };
                    if nb {
                        format!(
                            "Deleger {} til {whom} som skal lese meldingene.",
                            join_or(&names, " eller ")
                        )
                    } else {
                        format!(
                            "Delegate {} to {whom} who are to read the messages.",
                            join_or(&names, " or ")
                        )
                    }
                };
                out.push(Block::Para(delegate));
            }
            if let Some(f) = &item.fallback {
                out.push(Block::Para(if nb {
                    format!("Inntil dette er gjort, gjelder avsenderens reserveløsning: {f}")
                } else {
                    format!("Until this is done, the sender's fallback applies: {f}")
                }));
            }
        }
        if !self.unread.is_empty() {
            out.push(Block::Heading(if nb {
                "Meldinger som ikke er åpnet".to_owned()
            } else {
                "Messages not opened".to_owned()
            }));
            let n = self.unread.len();
            out.push(Block::Para(if nb {
                format!("Disse {n} meldingene til {org} er ikke åpnet av noen, og fristen for å lese dem er passert. Avsenderen kan sende dem på nytt på annen måte; oppgi referansen når dere tar kontakt.")
            } else {
                format!("These {n} messages to {org} have not been opened by anyone, and the deadline to read them has passed. The sender can send them again another way; quote the reference when you get in touch.")
            }));
            out.push(Block::List(
                self.unread
                    .iter()
                    .map(|u| {
                        let reference = u.message.reference();
                        let when = u.message.published.strftime("%Y-%m-%d").to_string();
                        let sender = self.names.name_first(u.message.sender);
                        if nb {
                            format!(
                                "`{reference}`: {} fra {sender}, sendt {when}",
                                u.message.message_type
                            )
                        } else {
                            format!(
                                "`{reference}`: {} from {sender}, sent {when}",
                                u.message.message_type
                            )
                        }
                    })
                    .collect(),
            ));
        }
        if self.no_notification_address {
            out.push(Block::Heading(if nb {
                "Varsling".to_owned()
            } else {
                "Notification".to_owned()
            }));
            out.push(Block::Para(if nb {
                format!("Verken {org} eller hovedenheten har en varslingsadresse i Altinn, så ingen får beskjed når en melding kommer. Registrer en e-postadresse eller et mobilnummer under «Varslingsadresser for virksomheten» i Altinn (Profil).")
            } else {
                format!("Neither {org} nor its main unit has a notification address in Altinn, so nobody is told when a message arrives. Register an e-mail address or mobile number under «Varslingsadresser for virksomheten» (notification addresses) in Altinn (Profile).")
            }));
        }
        if !self.items.is_empty() {
            out.push(Block::Heading(if nb {
                "Hvem kan delegere".to_owned()
            } else {
                "Who can delegate".to_owned()
            }));
            out.push(Block::Para(if nb {
                format!("Hovedadministrator for {org} i Altinn – som standard daglig leder (for en kommune: kommunedirektøren) eller styrets leder slik de står i Enhetsregisteret – eller en person de har gitt tilgangspakken «Tilgangsstyrer».")
            } else {
                format!("The main administrator (Hovedadministrator) of {org} in Altinn – by default the daglig leder (for a municipality: the chief municipal executive) or the chair as registered in Enhetsregisteret – or a person they have given the access package «Tilgangsstyrer» (access manager).")
            }));
            out.push(Block::Heading(if nb {
                "Slik gjør dere det i Altinn".to_owned()
            } else {
                "How to do it in Altinn".to_owned()
            }));
            out.push(Block::Steps(if nb {
                vec![
                    format!("Logg inn på altinn.no og velg å representere {org}."),
                    "Gå til «Tilgangsstyring» for virksomheten.".to_owned(),
                    "Velg personen som skal lese meldingene (for eksempel leder for barneverntjenesten eller postmottaket), eller legg personen til.".to_owned(),
                    "Gi personen tilgangspakken eller rollen nevnt over for hver meldingstype, og bekreft.".to_owned(),
                    "Be personen kontrollere at meldingene vises i innboksen for virksomheten, og at varsling er satt opp.".to_owned(),
                ]
            } else {
                vec![
                    format!("Log in at altinn.no and choose to act on behalf of {org}."),
                    "Go to «Tilgangsstyring» (access management) for the organisation.".to_owned(),
                    "Choose the person who is to read the messages (for example the head of child welfare services or the post room), or add the person.".to_owned(),
                    "Give the person the access package or role named above for each message type, and confirm.".to_owned(),
                    "Ask the person to check that the messages show in the organisation's inbox and that notification is set up.".to_owned(),
                ]
            }));
        }
        if !self.readable.is_empty() {
            out.push(Block::Para(if nb {
                format!(
                    "Disse meldingstypene kan allerede leses hos dere: {}.",
                    join(&self.readable, lang)
                )
            } else {
                format!(
                    "These message types can already be read at your organisation: {}.",
                    join(&self.readable, lang)
                )
            }));
        }
        out.push(Block::Heading(if nb {
            "Kontakt".to_owned()
        } else {
            "Contact".to_owned()
        }));
        out.push(Block::Para(match (&self.contact, nb) {
            (Some(c), _) => c.clone(),
            (None, true) => format!("Spørsmål om meldingene: kontakt avsenderen ({senders}). Spørsmål om Altinn: Altinn brukerservice."),
            (None, false) => format!("Questions about the messages: contact the sender ({senders}). Questions about Altinn: Altinn user support."),
        }));
        out.push(Block::Small(if nb {
            format!("Grunnlag: kontroll nr. {} av tilgangene i Altinn ({}), tilgangsdata hentet {}. Brevet inneholder navn og nummer på virksomheter, roller og tilgangspakker, ingen personopplysninger.", self.as_of.sweep, self.as_of.finished_at.strftime("%Y-%m-%d %H:%M UTC"), self.as_of.evidence_taken_at.strftime("%Y-%m-%d %H:%M UTC"))
        } else {
            format!("Basis: check no. {} of the access in Altinn ({}), access data taken {}. The letter contains names and numbers of organisations, roles and access packages, no personal data.", self.as_of.sweep, self.as_of.finished_at.strftime("%Y-%m-%d %H:%M UTC"), self.as_of.evidence_taken_at.strftime("%Y-%m-%d %H:%M UTC"))
        }));
        out
    }

    /// The letter in Markdown.
    pub fn markdown(&self, policies: &Policies, lang: Lang) -> String {
        let mut s = String::new();
        for b in self.paragraphs(policies, lang) {
            match b {
                Block::Title(t) => {
                    let _ = writeln!(s, "# {t}\n");
                }
                Block::Heading(t) => {
                    let _ = writeln!(s, "## {t}\n");
                }
                Block::Para(t) => {
                    let _ = writeln!(s, "{t}\n");
                }
                Block::Small(t) => {
                    let _ = writeln!(s, "_{t}_\n");
                }
                Block::Address(v) => {
                    // A hard line break after each line but the last.
                    let _ = writeln!(s, "{}\n", v.join("  \n"));
                }
                Block::Steps(v) => {
                    for (i, step) in v.iter().enumerate() {
                        let _ = writeln!(s, "{}. {step}", i + 1);
                    }
                    s.push('\n');
                }
                Block::List(v) => {
                    for item in v {
                        let _ = writeln!(s, "- {item}");
                    }
                    s.push('\n');
                }
            }
        }
        s
    }

    /// The letter as one self-contained HTML file.
    pub fn html(&self, policies: &Policies, lang: Lang) -> String {
        let blocks = self.paragraphs(policies, lang);
        let title = match blocks.first() {
            Some(Block::Title(t)) => t.clone(),
            _ => String::new(),
        };
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
            lang.words().lang,
            esc(&title)
        );
        for b in blocks {
            match b {
                Block::Title(t) => {
                    let _ = writeln!(s, "<h1>{}</h1>", code(&esc(&t)));
                }
                Block::Heading(t) => {
                    let _ = writeln!(s, "<h2>{}</h2>", code(&esc(&t)));
                }
                Block::Para(t) => {
                    let _ = writeln!(s, "<p>{}</p>", code(&esc(&t)));
                }
                Block::Small(t) => {
                    let _ = writeln!(s, "<footer><p>{}</p></footer>", esc(&t));
                }
                Block::Address(v) => {
                    let lines: Vec<String> = v.iter().map(|l| esc(l)).collect();
                    let _ = writeln!(s, "<address>{}</address>", lines.join("<br>"));
                }
                Block::Steps(v) => {
                    s.push_str("<ol>");
                    for step in v {
                        let _ = write!(s, "<li>{}</li>", esc(&step));
                    }
                    s.push_str("</ol>\n");
                }
                Block::List(v) => {
                    s.push_str("<ul>");
                    for item in v {
                        let _ = write!(s, "<li>{}</li>", code(&esc(&item)));
                    }
                    s.push_str("</ul>\n");
                }
            }
        }
        s.push_str("</main>\n</body>\n</html>\n");
        s
    }
}

/// `` `x` `` → `<code>x</code>` in already-escaped text.
fn code(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for part in s.split('`') {
        if inside {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

enum Block {
    Title(String),
    Heading(String),
    Para(String),
    Steps(Vec<String>),
    List(Vec<String>),
    Small(String),
    /// The addressee, sender and date, one per line.
    Address(Vec<String>),
}

fn join(items: &[String], lang: Lang) -> String {
    join_or(items, if lang == Lang::Nb { " og " } else { " and " })
}

fn join_or(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{}{word}{last}", rest.join(", ")),
    }
}
