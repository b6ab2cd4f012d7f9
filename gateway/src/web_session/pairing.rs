//! Phone pairing: a signed-in person shows a QR code, and the phone that scans it is signed in
//! as the same person, without a password typed on it. The code is 192 random bits in the link's
//! fragment, kept as its SHA-256, good for two minutes and one sign-in.

use qrcode::QrCode;
use qrcode::render::svg;

/// How long a pairing code works (ms).
pub const PAIRING_MS: i64 = 2 * 60 * 1000;

/// `text` as a QR code, an SVG document (black on white, with its quiet zone).
pub fn qr_svg(text: &str) -> Result<String, qrcode::types::QrError> {
    Ok(QrCode::new(text.as_bytes())?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_an_svg_qr_code() {
        let svg = qr_svg("https://localhost:3100/pair#abcdefghijklmnopqrstuvwxyz012345").unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{svg:.80}"
        );
        assert!(svg.contains("#000000") && !svg.contains("<script"));
    }
}
