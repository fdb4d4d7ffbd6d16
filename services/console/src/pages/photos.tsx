// The case's photos on the staff case page. Each is read with the staff session's credentials
// (GET /v1/staff/complaints/{no}/attachments/{n}) and shown from a blob: URL, revoked when the
// page goes; only the people who see the complainant's contact in full may read them (others
// get 403 and see the list only).
import { useEffect, useState } from "preact/hooks";
import { ApiError, fetchBlob } from "../api";
import { fmtTime, t } from "../i18n";

export interface Photo {
  attachment: number;
  content_type: string;
  bytes: number;
  uploaded_by: string;
  at: string;
  url: string;
}

function PhotoFigure(props: { photo: Photo; onDenied: () => void }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    let url: string | null = null;
    fetchBlob(props.photo.url, ctl.signal).then((b) => {
      url = URL.createObjectURL(b);
      setSrc(url);
    }, (e) => {
      if (ctl.signal.aborted) return;
      if (e instanceof ApiError && e.status === 403) props.onDenied();
      else setFailed(true);
    });
    return () => {
      ctl.abort();
      if (url) URL.revokeObjectURL(url);
    };
  }, [props.photo.url]);
  const who = props.photo.uploaded_by === "customer" ? t("case.photos.by_customer") : props.photo.uploaded_by;
  return (
    <figure class="photo">
      {src ? <img src={src} alt={t("case.photos.alt", { n: props.photo.attachment })} />
           : <div class="photo-wait muted">{failed ? t("case.photos.failed") : t("common.loading")}</div>}
      <figcaption>#{props.photo.attachment} · {who} · {fmtTime(props.photo.at)} · {Math.max(1, Math.round(props.photo.bytes / 1024))} KB</figcaption>
    </figure>
  );
}

export function CasePhotos(props: { photos: Photo[] }) {
  const [denied, setDenied] = useState(false);
  return (
    <section class="card" aria-labelledby="ph-h">
      <h2 id="ph-h">{t("photos.title")}</h2>
      {props.photos.length === 0 ? <p class="muted">{t("photos.none")}</p>
        : denied ? <p class="muted" id="photos-restricted">{t("case.photos.restricted", { n: props.photos.length })}</p>
        : <div class="photo-grid" id="case-photos">
            {props.photos.map((p) => <PhotoFigure photo={p} onDenied={() => setDenied(true)} />)}
          </div>}
    </section>
  );
}
