//! The web UI: static files compiled into the binary, served as they are asked for (the routes are
//! `routes/assets.rs`; the security headers every answer carries are `crate::http::headers`).
//!
//! No build step and no framework: `index.html`, `app.css` and the ES modules beside this file
//! (one per screen or concern; ARCHITECTURE.md lists them) are served as written, with two
//! vendored packages from `vendor/` (marked, Prism; pinned in `gateway/web-deps/`, so building the
//! gateway needs no npm). Run output reaches the DOM only as text (`textContent`); the
//! Content-Security-Policy allows scripts and styles from this origin only, so even a rendering
//! bug could not run injected script.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::http::compress::{accepts_gzip, gzip};

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const INDEX: &[u8] = include_bytes!("index.html");

/// An ES module of the page, served from `/assets/<name>`.
macro_rules! module {
    ($name:literal) => {
        Asset {
            name: $name,
            mime: "text/javascript; charset=utf-8",
            body: include_bytes!($name),
        }
    };
    ($name:literal, vendor) => {
        Asset {
            name: $name,
            mime: "text/javascript; charset=utf-8",
            body: include_bytes!(concat!("vendor/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    // The entry module and what it imports at load (index.html preloads them).
    module!("app.mjs"),
    module!("api.mjs"),
    module!("agents.mjs"),
    module!("dom.mjs"),
    module!("format.mjs"),
    module!("runs.mjs"),
    module!("runview.mjs"),
    module!("stream.mjs"),
    module!("controls.mjs"),
    module!("approvals.mjs"),
    module!("terminal.mjs"),
    module!("search.mjs"),
    module!("lines.mjs"),
    module!("ansi.mjs"),
    module!("viewer.mjs"),
    module!("diff.mjs"),
    module!("tree.mjs"),
    module!("me.mjs"),
    module!("passkey.mjs"),
    module!("team.mjs"),
    module!("tokens.mjs"),
    module!("highlight.mjs"),
    // Imported on first use: the transcript pane, the files pane.
    module!("transcript.mjs"),
    module!("markdown.mjs"),
    module!("toolcalls.mjs"),
    module!("files.mjs"),
    module!("settings.mjs"),
    // The service worker (served at `/sw.js`, so its scope is the whole gateway) and the web app
    // manifest (`/manifest.webmanifest`): Web Push, and the UI installable on a phone.
    module!("sw.js"),
    Asset {
        name: "manifest.webmanifest",
        mime: "application/manifest+json",
        body: include_bytes!("manifest.webmanifest"),
    },
    // Vendored packages (gateway/web-deps/vendor.mjs copies them), imported on first use: the
    // Markdown lexer with the first answer, the highlighter with the first code block or file.
    module!("marked.mjs", vendor),
    module!("prism.mjs", vendor),
    Asset {
        name: "marked.LICENSE",
        mime: "text/plain; charset=utf-8",
        body: include_bytes!("vendor/marked.LICENSE"),
    },
    Asset {
        name: "prism.LICENSE",
        mime: "text/plain; charset=utf-8",
        body: include_bytes!("vendor/prism.LICENSE"),
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("app.css"),
    },
    // The runner's built-in `exec` allowlist, offered as suggestions (the runner decides).
    Asset {
        name: "allowlist.txt",
        mime: "text/plain; charset=utf-8",
        body: include_bytes!("../../../config/allowlist.txt"),
    },
    Asset {
        name: "icon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("icon.svg"),
    },
];

/// One file as served: its bytes, gzipped, and a strong ETag (hash of the content) for each.
struct Variants {
    etag: String,
    gzip: Vec<u8>,
    gzip_etag: String,
}

/// The variants of `INDEX` (first) and of each asset, computed once, at the first request
/// (about 300 KB of text: some tens of milliseconds).
fn variants() -> &'static [Variants] {
    static ALL: OnceLock<Vec<Variants>> = OnceLock::new();
    ALL.get_or_init(|| {
        std::iter::once(INDEX)
            .chain(ASSETS.iter().map(|a| a.body))
            .map(|body| {
                let tag = &hex::encode(Sha256::digest(body))[..20];
                Variants {
                    etag: format!("\"{tag}\""),
                    gzip: gzip(body, 9),
                    gzip_etag: format!("\"{tag}-gz\""),
                }
            })
            .collect()
    })
}

/// Serve `body` (gzipped when the browser takes it), or 304 when the browser's copy is current.
/// `no-cache` makes the browser ask each time (a cheap 304), so a new gateway version is picked
/// up at the next load.
fn serve(
    headers: &HeaderMap,
    v: &'static Variants,
    mime: &'static str,
    body: &'static [u8],
) -> Response {
    let gz = accepts_gzip(headers);
    let (etag, bytes) = if gz {
        (&v.gzip_etag, v.gzip.as_slice())
    } else {
        (&v.etag, body)
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, mime)], bytes).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gz && !fresh {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// The page (for `/` and for the links to runs, `/runs/:id`).
pub fn page(headers: &HeaderMap) -> Response {
    serve(headers, &variants()[0], "text/html; charset=utf-8", INDEX)
}

/// The asset called `name`, if there is one.
pub fn asset(headers: &HeaderMap, name: &str) -> Option<Response> {
    let i = ASSETS.iter().position(|a| a.name == name)?;
    Some(serve(
        headers,
        &variants()[i + 1],
        ASSETS[i].mime,
        ASSETS[i].body,
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::body::to_bytes;

    use super::*;

    async fn fetch(path: &str, accept: Option<&str>, etag: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(a).unwrap());
        }
        if let Some(t) = etag {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(t).unwrap());
        }
        match path.strip_prefix("/assets/") {
            Some(name) => asset(&headers, name).expect("an asset"),
            None => page(&headers),
        }
    }

    /// The module names a source imports (`from './x.mjs'`, `import('./x.mjs')`).
    fn imports(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for pat in ["from './", "import('./"] {
            for (i, _) in src.match_indices(pat) {
                let rest = &src[i + pat.len()..];
                if let Some(end) = rest.find('\'') {
                    out.push(rest[..end].to_string());
                }
            }
        }
        out
    }

    #[test]
    fn every_imported_module_is_served_and_preloads_are_modules() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        let mut seen = 0;
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".mjs")) {
            for m in imports(std::str::from_utf8(a.body).unwrap()) {
                assert!(
                    names.contains(&m.as_str()),
                    "{} imports {m}, not served",
                    a.name
                );
                seen += 1;
            }
        }
        assert!(seen > 20, "imports found: {seen}");
        let page = std::str::from_utf8(INDEX).unwrap();
        for (i, _) in page.match_indices("href=\"/assets/") {
            let rest = &page[i + 14..];
            let name = &rest[..rest.find('"').unwrap()];
            assert!(names.contains(&name), "index.html links {name}, not served");
        }
        // The page itself runs no inline script: its only script is the entry module.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains("<script type=\"module\" src=\"/assets/app.mjs\"></script>"));
    }

    #[test]
    fn own_modules_never_assign_html() {
        let scripts = ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".mjs") || a.name.ends_with(".js"));
        for a in scripts {
            if a.name == "marked.mjs" || a.name == "prism.mjs" {
                continue; // vendored: only their lexer and tokenizer are called
            }
            let src = std::str::from_utf8(a.body).unwrap();
            for bad in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!src.contains(bad), "{} uses {bad}", a.name);
            }
        }
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        for (value, gz) in [
            ("gzip, deflate, br, zstd", true),
            ("GZIP", true),
            ("br;q=1.0, gzip;q=0.5", true),
            ("*", true),
            ("gzip;q=0", false),
            ("br, deflate", false),
            ("identity", false),
            ("x-gzip-not", false),
        ] {
            assert_eq!(h(value), gz, "{value}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn assets_are_gzipped_when_accepted_with_their_own_etag() {
        let plain = fetch("/assets/prism.mjs", None, None).await;
        assert_eq!(plain.status(), StatusCode::OK);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[header::VARY], "accept-encoding");
        let plain_tag = plain.headers()[header::ETAG].to_str().unwrap().to_string();
        let plain_body = to_bytes(plain.into_body(), usize::MAX).await.unwrap();
        let prism = ASSETS.iter().find(|a| a.name == "prism.mjs").unwrap();
        assert_eq!(&plain_body[..], prism.body);

        let gz = fetch("/assets/prism.mjs", Some("gzip, br"), None).await;
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gz.headers()[header::VARY], "accept-encoding");
        let gz_tag = gz.headers()[header::ETAG].to_str().unwrap().to_string();
        assert_ne!(gz_tag, plain_tag, "each encoding has its own validator");
        let packed = to_bytes(gz.into_body(), usize::MAX).await.unwrap();
        assert!(
            packed.len() * 2 < plain_body.len(),
            "{} → {}",
            plain_body.len(),
            packed.len()
        );
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain_body);

        // Revalidation: 304 for the matching variant's tag, no body, no Content-Encoding.
        let again = fetch("/assets/prism.mjs", Some("gzip"), Some(&gz_tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.headers().get(header::CONTENT_ENCODING).is_none());
        let other = fetch("/assets/prism.mjs", Some("gzip"), Some(&plain_tag)).await;
        assert_eq!(other.status(), StatusCode::OK);

        let page = fetch("/", Some("gzip"), None).await;
        assert_eq!(page.headers()[header::CONTENT_ENCODING], "gzip");
    }
}
