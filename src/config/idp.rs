//! One `[[idp]]` section (or a discovered `<data>/idp/*.xml`) into an
//! [`Idp`]: its keys, metadata source, binding and login options checked,
//! every problem collected; and the checks that span IdPs.

use super::*;

/// With no config file, each `<data>/idp/*.xml` becomes an IdP named after the file.
pub(super) fn discover_idps(src: &dyn Source, data_dir: &Path) -> Vec<RawIdp> {
    let Ok(entries) = src.list(&data_dir.join("idp")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let stem = f.file_stem()?.to_string_lossy().to_lowercase();
            let id: String = stem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let text = read_text(src, &f).unwrap_or_default();
            let profile = if text.contains("https://sts.windows.net/") {
                "entra"
            } else {
                "generic"
            };
            Some(RawIdp {
                id: Some(id.clone()),
                display_name: Some(id),
                metadata_file: Some(f.to_string_lossy().into_owned()),
                profile: Some(profile.into()),
                ..Default::default()
            })
        })
        .collect()
}

pub(super) fn load_idp(
    r: RawIdp,
    key: &dyn Fn(&str) -> String,
    rel: &dyn Fn(&str) -> PathBuf,
    src: &dyn Source,
    data_dir: &Path,
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Option<Idp> {
    for k in r.unknown.keys() {
        p.add(key(k), "unknown key");
    }
    let id = r.id.clone().unwrap_or_default();
    check_id(p, key("id"), &id);
    let profile = match r.profile.as_deref().unwrap_or("generic") {
        "entra" => Profile::Entra,
        "keycloak" => Profile::Keycloak,
        "generic" => Profile::Generic,
        other => {
            p.add(
                key("profile"),
                format!("'{other}' is not one of entra, keycloak, generic"),
            );
            Profile::Generic
        }
    };
    let overrides = match r.attributes {
        None => AttributeOverrides::default(),
        Some(v) => v.try_into::<AttributeOverrides>().unwrap_or_else(|e| {
            p.add(key("attributes"), e.message().to_string());
            AttributeOverrides::default()
        }),
    };
    let skew = parse_duration_or(p, &key("clock_skew"), r.clock_skew.as_deref(), 60);
    if skew > Duration::from_secs(600) {
        p.add(key("clock_skew"), "more than 10 minutes of clock skew would keep stolen responses usable; fix the clocks instead");
    }
    let metadata_signer = match r.metadata_signing_cert.as_deref().map(rel) {
        None => None,
        Some(path) => match src.read(&path) {
            Err(e) => {
                p.add(
                    key("metadata_signing_cert"),
                    format!("cannot read '{}': {e}", path.display()),
                );
                None
            }
            Ok(b) => trust::load_signer(&b, &path)
                .map_err(|m| p.add(key("metadata_signing_cert"), m))
                .ok(),
        },
    };
    if let Some(u) = &r.metadata_url {
        trust::check_transport(
            u,
            r.metadata_signing_cert.is_some(),
            r.allow_insecure_metadata_url.unwrap_or(false),
            &key("metadata_url"),
            p,
            warnings,
        );
    }
    let mut from_saved_copy = false;
    let mut fell_back: Option<String> = None;
    let xml = match (&r.metadata_file, &r.metadata_url) {
        (Some(_), Some(_)) => {
            p.add(
                key("metadata_url"),
                "set metadata_file or metadata_url, not both",
            );
            None
        }
        (None, None) => {
            p.add(
                key("metadata_file"),
                "one of metadata_file or metadata_url is required",
            );
            None
        }
        (Some(f), None) => {
            let path = rel(f);
            match src.read(&path) {
                Ok(x) => Some((x, "metadata_file")),
                Err(e) => {
                    p.add(
                        key("metadata_file"),
                        format!("cannot read '{}': {e}", path.display()),
                    );
                    None
                }
            }
        }
        (None, Some(u)) => match check_base_url(u) {
            Err(m) => {
                p.add(key("metadata_url"), m.to_string());
                None
            }
            Ok(_) => match src.fetch_metadata(MetadataRequest {
                idp_id: &id,
                url: u,
                data_dir,
            }) {
                Ok(f) => {
                    if let Some(fb) = f.fallback {
                        from_saved_copy = true;
                        fell_back = Some(format!(
                            " (fetch failed: {}; using the copy saved at {})",
                            fb.reason,
                            fb.saved_at.display()
                        ));
                        warnings.push(format!(
                            "{}: fetch failed ({}); using the copy saved at {}",
                            key("metadata_url"),
                            fb.reason,
                            fb.saved_at.display()
                        ));
                    }
                    Some((f.xml, "metadata_url"))
                }
                Err(e) => {
                    p.add(key("metadata_url"), e.to_string());
                    None
                }
            },
        },
    };
    let domains = domains::load(p, key("domains"), r.domains);
    let (xml, mkey) = xml?;
    let metadata_source = match (&r.metadata_file, &r.metadata_url) {
        (Some(f), _) => format!("file {}", rel(f).display()),
        (None, Some(u)) => format!("url {u}{}", fell_back.unwrap_or_default()),
        (None, None) => String::new(),
    };
    if r.metadata_signing_cert.is_some() && metadata_signer.is_none() {
        return None;
    }
    let allow_sha1 = r.allow_sha1.unwrap_or(false);
    let sso_binding = r.sso_binding.as_deref().and_then(|b| {
        let parsed = SsoBinding::from_name(b);
        if parsed.is_none() {
            p.add(
                key("sso_binding"),
                format!("'{b}' is not one of redirect, post"),
            );
        }
        parsed
    });
    // The bytes are parsed in place, not copied: a federation aggregate is
    // held once while it is read (they come back for the saved copy).
    let (t, xml) = match trust::trust_from_owned(
        xml,
        r.entity_id.as_deref(),
        metadata_signer.as_ref(),
        allow_sha1,
        sso_binding,
    ) {
        Ok(t) => t,
        Err(problems) => {
            for m in problems {
                match m {
                    trust::Problem::Sso(m) if r.sso_binding.is_some() => {
                        p.add(key("sso_binding"), m)
                    }
                    trust::Problem::Sso(m) | trust::Problem::Metadata(m) => p.add(key(mkey), m),
                }
            }
            return None;
        }
    };
    let attributes = AttributeMap::new(profile, &overrides);
    if t.metadata.only_transient_name_ids() && attributes.subject.is_none() {
        warnings.push(format!(
            "{}: the IdP's metadata lists only transient NameIDs (SAML Core §8.3.8), which change at every sign-in; Home Assistant and OpenID Connect sign-ins will be refused. Configure the IdP to send a persistent NameID, or set [idp.attributes] subject",
            key(mkey)
        ));
    }
    let allow_unsolicited = r.allow_unsolicited.unwrap_or(false);
    let unsolicited_target = match r.unsolicited_target.as_deref() {
        None => UnsolicitedTarget::default(),
        Some(_) if !allow_unsolicited => {
            p.add(
                key("unsolicited_target"),
                "has no effect unless allow_unsolicited = true",
            );
            UnsolicitedTarget::default()
        }
        Some(t) => UnsolicitedTarget::parse(t).unwrap_or_else(|m| {
            p.add(key("unsolicited_target"), m);
            UnsolicitedTarget::default()
        }),
    };
    if let Some(u) = r.metadata_url.as_ref().filter(|_| !from_saved_copy) {
        src.metadata_accepted(
            MetadataRequest {
                idp_id: &id,
                url: u,
                data_dir,
            },
            &xml,
        );
    }
    let metadata_origin = r.metadata_url.clone().map(|url| MetadataOrigin {
        url,
        entity_id: r.entity_id.clone(),
        from_saved_copy,
    });
    Some(Idp {
        display_name: r.display_name.unwrap_or_else(|| id.clone()),
        id,
        profile,
        attributes,
        keys: t.keys,
        allow_sha1,
        allow_cbc: r.allow_cbc.unwrap_or(false),
        allow_rsa1_5: r.allow_rsa1_5.unwrap_or(false),
        email_verified: r.email_verified.unwrap_or(false),
        clock_skew: time::Duration::try_from(skew).unwrap_or(time::Duration::MINUTE),
        metadata: t.metadata,
        metadata_origin,
        metadata_signer,
        allow_non_ncname_ids: r.allow_non_ncname_ids.unwrap_or(false),
        domains,
        sso_binding,
        allow_unsolicited,
        unsolicited_target,
        metadata_source,
    })
}

/// IdP-initiated login: the landing target names a configured HA instance
/// or OIDC client, and the Issuer of an unsolicited response (the only
/// thing that names its IdP, SAML Profiles §4.1.5) picks one IdP.
pub(super) fn check_unsolicited(
    idps: &[Idp],
    has: &[ha::HaInstance],
    oidc: &crate::oidc::client::Oidc,
    p: &mut Problems,
) {
    for (i, idp) in idps.iter().enumerate().filter(|(_, i)| i.allow_unsolicited) {
        let key = format!("idp[{i}].unsolicited_target");
        match &idp.unsolicited_target {
            UnsolicitedTarget::Path {
                instance: Some(inst),
                ..
            } if !has.iter().any(|h| &h.id == inst) => {
                p.add(key, format!("no [[ha]] instance '{inst}'"));
            }
            UnsolicitedTarget::OidcClient(c) if oidc.client(c).is_none() => {
                p.add(key, format!("no [[oidc.client]] with client_id '{c}'"));
            }
            _ => {}
        }
        let twin = idps
            .iter()
            .take(i)
            .find(|o| o.allow_unsolicited && o.metadata.entity_id == idp.metadata.entity_id);
        if let Some(o) = twin {
            p.add(
                format!("idp[{i}].allow_unsolicited"),
                format!(
                    "IdP '{}' has the same entityID and also allows unsolicited responses; only one may",
                    o.id
                ),
            );
        }
    }
}
