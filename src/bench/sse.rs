//! Server-sent events as llama-server streams them: `data: {json}` lines separated
//! by blank lines. The parser takes bytes as they arrive, in chunks of any size, and
//! returns each complete `data` payload.

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feeds bytes; returns the payloads of the events completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(data) = line.strip_prefix("data:") {
                let data = data.strip_prefix(' ').unwrap_or(data);
                if data != "[DONE]" {
                    out.push(data.to_string());
                }
            }
        }
        out
    }

    /// Bytes received after the last complete line (an error body, say).
    pub fn rest(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_joined() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: {\"a\":").is_empty());
        assert_eq!(
            p.push(b"1}\n\ndata: {\"b\":2}\n"),
            ["{\"a\":1}", "{\"b\":2}"]
        );
        assert!(p.push(b"\n").is_empty());
    }

    #[test]
    fn several_events_in_one_chunk_and_crlf() {
        let mut p = SseParser::default();
        let got = p.push(b"data: 1\r\n\r\ndata: 2\n\ndata: [DONE]\n\n: comment\n");
        assert_eq!(got, ["1", "2"]);
    }

    #[test]
    fn an_unterminated_line_stays_as_rest() {
        let mut p = SseParser::default();
        assert!(p.push(b"{\"error\":\"boom\"}").is_empty());
        assert_eq!(p.rest(), "{\"error\":\"boom\"}");
    }
}
