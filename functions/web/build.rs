//! Renders the privacy notices (Markdown in the repository) to HTML when the crate is built:
//! the current one in English and Swedish, and every archived version in `notices/`.

use std::path::{Path, PathBuf};
use std::{env, fs};

#[path = "src/markdown.rs"]
mod markdown;

fn render(source: &Path, target: &Path) {
    println!("cargo:rerun-if-changed={}", source.display());
    let text = fs::read_to_string(source).unwrap_or_else(|err| panic!("{}: {err}", source.display()));
    fs::write(target, markdown::to_html(&text)).unwrap_or_else(|err| panic!("{}: {err}", target.display()));
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = Path::new("../..");
    render(&root.join("privacy-notice.md"), &out.join("privacy-notice.html"));
    render(&root.join("privacy-notice.sv.md"), &out.join("privacy-notice.sv.html"));
    let archive = root.join("notices");
    println!("cargo:rerun-if-changed={}", archive.display());
    fs::create_dir_all(out.join("notices")).expect("OUT_DIR is writable");
    for entry in fs::read_dir(&archive).expect("notices/ holds the earlier versions") {
        let source = entry.expect("a readable folder").path();
        if source.extension().is_some_and(|extension| extension == "md") {
            let name = source.with_extension("html");
            let name = name.file_name().expect("a file name");
            render(&source, &out.join("notices").join(name));
        }
    }
}
