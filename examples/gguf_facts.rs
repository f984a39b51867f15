//! Prints a GGUF file's header facts and bytes per generated token:
//! `cargo run --release --example gguf_facts -- MODEL.gguf`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: gguf_facts MODEL.gguf")?;
    let f = rigbench::gguf::read_facts(std::path::Path::new(&path))?;
    println!("{}", serde_json::to_string_pretty(&f)?);
    println!("bytes per token: {:?}", f.bytes_per_token());
    Ok(())
}
