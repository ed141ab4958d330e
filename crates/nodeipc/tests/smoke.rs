use serde_json::{Value, json};

#[tokio::test]
async fn node_child_echoes() {
    let (mut child, mut ch) = nodeipc::Command::new("node")
        .arg("-e")
        .arg("process.on('message', m => process.send({echo: m}))")
        .spawn()
        .unwrap();
    ch.send(&json!({"hi": "café \u{1F600}"})).await.unwrap();
    let got: Value = ch.recv().await.unwrap().unwrap();
    assert_eq!(got, json!({"echo": {"hi": "café \u{1F600}"}}));
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}
