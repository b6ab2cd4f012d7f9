//! Token families: payment providers.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
    // Payment providers
    tok!(
        "stripe",
        [
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"
        ],
        r"\b[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,}"
    ),
    tok!("stripe_webhook", ["whsec_"], r"\bwhsec_[A-Za-z0-9]{32,}"),
    tok!(
        "square",
        ["sq0atp-", "sq0csp-", "EAAA"],
        r"\b(?:sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43}|EAAA[A-Za-z0-9_+=-]{60})"
    ),
    tok!(
        "paypal_braintree",
        ["access_token$production$", "access_token$sandbox$"],
        r"access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}"
    ),
    tok!(
        "adyen",
        ["AQE"],
        r"\bAQE[A-Za-z0-9]{3}[A-Za-z0-9+/=_.-]{60,}"
    ),
    tok!(
        "razorpay",
        ["rzp_live_", "rzp_test_"],
        r"\brzp_(?:live|test)_[A-Za-z0-9]{14}\b"
    ),
    tok!(
        "flutterwave",
        ["FLWSECK", "FLWPUBK"],
        r"\bFLW(?:SECK|PUBK)(?:_TEST)?-[A-Za-z0-9]{32}-X\b|\bFLWSECK(?:_TEST)?[A-Za-z0-9]{12}\b"
    ),
    tok!(
        "paystack",
        ["sk_live_", "sk_test_"],
        r"\bsk_(?:live|test)_[a-f0-9]{40}\b"
    ),
    tok!(
        "mollie",
        ["mollie"],
        r#"(?i)\bmollie[a-z0-9_.\-]{0,20}key["']?[ \t]*[:=][ \t]*["']?(?P<secret>(?:live|test)_[A-Za-z0-9]{30})\b"#
    ),
    tok!(
        "coinbase_commerce",
        ["coinbase"],
        r#"(?i)\bcoinbase[a-z0-9_.\-]{0,20}commerce[a-z0-9_.\-]{0,10}key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
    tok!(
        "checkout",
        ["sk_sbox_", "pk_sbox_"],
        r"\b[sp]k_sbox_[a-z0-9]{26}\b"
    ),
    tok!(
        "wise",
        ["wise"],
        r#"(?i)\b(?:wise|transferwise)[a-z0-9_.\-]{0,20}(?:token|key)["']?[ \t]*[:=][ \t]*["']?(?P<secret>[a-f0-9-]{36})\b"#
    ),
];
