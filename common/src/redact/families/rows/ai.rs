//! Token families: AI providers.

use super::super::Row;

pub(in crate::redact::families) const ROWS: &[Row] = &[
    // AI providers
    tok!(
        "anthropic",
        ["sk-ant-"],
        r"\bsk-ant-(?:api\d\d|admin\d\d|oat\d\d|ort\d\d|sid\d\d)-[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "openai",
        ["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"],
        r"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{20,}"
    ),
    tok!(
        "openai_legacy",
        ["T3BlbkFJ"],
        r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b"
    ),
    tok!("sk", ["sk-"], r"\bsk-[A-Za-z0-9]{24,}\b"),
    // OpenRouter's keys hold dashes, which the `sk-` row's value does not.
    tok!("openrouter", ["sk-or-v1-"], r"\bsk-or-v1-[a-f0-9]{64}\b"),
    tok!("groq", ["gsk_"], r"\bgsk_[A-Za-z0-9]{40,}"),
    tok!("replicate", ["r8_"], r"\br8_[A-Za-z0-9]{30,}"),
    tok!("xai", ["xai-"], r"\bxai-[A-Za-z0-9]{60,}"),
    tok!("perplexity", ["pplx-"], r"\bpplx-[A-Za-z0-9]{40,}"),
    tok!("huggingface", ["hf_"], r"\bhf_[A-Za-z]{30,}\b"),
    tok!(
        "huggingface_org",
        ["api_org_"],
        r"\bapi_org_[A-Za-z]{30,}\b"
    ),
    tok!("cohere", ["co_"], r"\bco_[A-Za-z0-9]{40}\b"),
    tok!(
        "langsmith",
        ["lsv2_pt_", "lsv2_sk_"],
        r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b"
    ),
    tok!("deepgram", ["dg_"], r"\bdg_[A-Za-z0-9]{40}\b"),
    tok!("elevenlabs", ["sk_"], r"\bsk_[a-f0-9]{48}\b"),
    tok!("privateai", ["pai_"], r"\bpai_[A-Za-z0-9]{32,}\b"),
];
