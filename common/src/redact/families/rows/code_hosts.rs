//! Token families: code hosts.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
    // Code hosts
    tok!(
        "github",
        ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        r"\bgh[pousr]_[A-Za-z0-9]{30,}"
    ),
    tok!(
        "github_fine_grained",
        ["github_pat_"],
        r"\bgithub_pat_[A-Za-z0-9_]{40,}"
    ),
    tok!(
        "gitlab",
        [
            "glpat-", "glptt-", "gldt-", "glrt-", "glcbt-", "glsoat-", "glffct-", "glimt-",
            "glft-", "glagent-", "gloas-"
        ],
        r"\bgl(?:pat|ptt|dt|rt|cbt|soat|ffct|imt|ft|agent|oas)-[A-Za-z0-9_.-]{20,}"
    ),
    tok!(
        "gitlab_runner_registration",
        ["GR1348941"],
        r"\bGR1348941[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "gitlab_session",
        ["_gitlab_session="],
        r"_gitlab_session=(?P<secret>[a-z0-9]{32})"
    ),
    tok!(
        "bitbucket_app_password",
        ["ATBB"],
        r"\bATBB[A-Za-z0-9_=.-]{28,}"
    ),
    tok!(
        "atlassian",
        ["ATATT3", "ATCTT3"],
        r"\bAT[AC]TT3[A-Za-z0-9_=.-]{60,}"
    ),
    tok!(
        "gitea",
        ["gitea"],
        r"(?i)\bgitea[a-z0-9_.-]{0,20}(?:token|key|secret)[^A-Za-z0-9\n]{1,5}(?P<secret>[a-f0-9]{40})\b"
    ),
    tok!(
        "sourcegraph",
        ["sgp_"],
        r"\bsgp_(?:[a-f0-9]{16}_)?[a-f0-9]{40}\b"
    ),
    tok!("sourcehut", ["AFRC"], r"\bAFRC[A-Za-z0-9_-]{40,}"),
];
