// The GPS position a phone writes into a JPEG's EXIF, read in the browser so that the page can offer
// « Utiliser la position de la photo ». Reads the first 256 kB only; anything unexpected gives null.
// (The server strips EXIF from every served copy and keeps the original private.)

export async function gpsFromFile(file) {
  if (!file || !/^image\/jpe?g$/i.test(file.type)) return null;
  try {
    const buffer = await file.slice(0, 256 * 1024).arrayBuffer();
    return gpsFromJpeg(new DataView(buffer));
  } catch {
    return null;
  }
}

function gpsFromJpeg(view) {
  if (view.getUint16(0) !== 0xffd8) return null;
  let offset = 2;
  while (offset + 10 < view.byteLength) {
    const marker = view.getUint16(offset);
    if ((marker & 0xff00) !== 0xff00) return null;
    const size = view.getUint16(offset + 2);
    if (marker === 0xffe1 && view.getUint32(offset + 4) === 0x45786966) return readTiff(view, offset + 10);
    if (marker === 0xffda) return null; // image data: no EXIF before it
    offset += 2 + size;
  }
  return null;
}

function readTiff(view, start) {
  const little = view.getUint16(start) === 0x4949;
  const u16 = (o) => view.getUint16(start + o, little);
  const u32 = (o) => view.getUint32(start + o, little);
  const ifd0 = u32(4);
  let gps = null;
  for (let i = 0; i < u16(ifd0); i += 1) {
    const entry = ifd0 + 2 + i * 12;
    if (u16(entry) === 0x8825) gps = u32(entry + 8);
  }
  if (gps === null) return null;
  const tags = {};
  for (let i = 0; i < u16(gps); i += 1) {
    const entry = gps + 2 + i * 12;
    const tag = u16(entry);
    const type = u16(entry + 2);
    const count = u32(entry + 4);
    if (type === 2) {
      tags[tag] = String.fromCharCode(view.getUint8(start + entry + 8));
    } else if (type === 5 && count === 3) {
      const at = u32(entry + 8);
      tags[tag] = [0, 1, 2].map((k) => u32(at + k * 8) / u32(at + k * 8 + 4));
    }
  }
  const degrees = (dms) => (Array.isArray(dms) ? dms[0] + dms[1] / 60 + dms[2] / 3600 : NaN);
  const lat = degrees(tags[2]) * (tags[1] === "S" ? -1 : 1);
  const lon = degrees(tags[4]) * (tags[3] === "W" ? -1 : 1);
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  if (lat === 0 && lon === 0) return null;
  return { lat, lon };
}
