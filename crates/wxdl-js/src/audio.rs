//! `wx.playVoice`'s decoder: probes an audio file with symphonia and reports its format,
//! duration, sample rate and channels (wxdl does not drive an audio device).

use std::path::Path;

use serde_json::{json, Value};
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// At most this many packets are read to measure a stream whose header has no length.
const MAX_PACKETS: usize = 2_000_000;

/// Decodes enough of `path` to describe it: `{format, codec, duration, sampleRate, channels}`.
pub fn describe(path: &Path) -> Result<Value, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| format!("not a playable audio file: {e}"))?;
    let mut reader = probed.format;
    let track = reader.default_track().ok_or("no audio track")?.clone();
    let params = &track.codec_params;
    let codec = symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map_or("unknown", |d| d.short_name);
    let sample_rate = params.sample_rate.unwrap_or(0);
    let mut frames = params.n_frames;
    if frames.is_none() {
        let mut total = 0u64;
        for _ in 0..MAX_PACKETS {
            match reader.next_packet() {
                Ok(p) if p.track_id() == track.id => total += p.dur,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        frames = Some(total);
    }
    let duration = match (frames, sample_rate) {
        (Some(f), r) if r > 0 => f as f64 / f64::from(r),
        _ => 0.0,
    };
    let format = if codec.starts_with("pcm") {
        "wav"
    } else {
        codec
    };
    Ok(json!({
        "format": format,
        "codec": codec,
        "duration": duration,
        "sampleRate": sample_rate,
        "channels": params.channels.map_or(0, |c| c.count()),
    }))
}
