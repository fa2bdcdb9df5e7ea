/// Splits fuzz input into frames: each frame is a length byte then that
/// many bytes (the last frame takes what is left).
pub fn frames(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() && out.len() < 80 {
        let n = data[i] as usize;
        i += 1;
        let end = (i + n).min(data.len());
        out.push(data[i..end].to_vec());
        i = end;
    }
    out
}
