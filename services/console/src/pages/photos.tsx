// The case's photos on the staff case page. Each is read with the staff session's credentials
// (GET /v1/staff/complaints/{no}/attachments/{n}) and shown from a blob: URL, revoked when the
// page goes; only the people who see the complainant's contact in full may read them (others
// get 403 and see the list only). The same people may delete one for good, with a reason
// (DELETE .../attachments/{n}; the reason goes to intake's audit, never to the timeline).
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, fetchBlob } from "../api";
import { fmtTime, t } from "../i18n";
import { ErrorBox } from "../ui";

export interface Photo {
  attachment: number;
  content_type: string;
  bytes: number;
  uploaded_by: string;
  at: string;
  url: string;
}

/** Deleting a photo: the reason is required (the API refuses a blank one and names it). */
function DeletePhoto(props: { photo: Photo; onDeleted: () => void }) {
  const [reason, setReason] = useState("");
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = `photo-del-${props.photo.attachment}`;
  return (
    <details class="photo-delete">
      <summary>{t("case.photos.delete", { n: props.photo.attachment })}</summary>
      <form noValidate onSubmit={async (e) => {
        e.preventDefault();
        setErr(null);
        setBusy(true);
        try {
          await call(props.photo.url, { method: "DELETE", body: { reason: reason.trim() }, staff: true });
          props.onDeleted();
        } catch (x) {
          setErr(x);
        } finally {
          setBusy(false);
        }
      }}>
        <label for={id}>{t("case.photos.delete.reason")}</label>
        <input id={id} maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
        {err ? <ErrorBox error={err} /> : null}
        <button type="submit" disabled={busy || !reason.trim()}>{t("case.photos.delete.confirm")}</button>
      </form>
    </details>
  );
}

function PhotoFigure(props: { photo: Photo; onDenied: () => void; onDeleted: () => void }) {
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
      {src && <DeletePhoto photo={props.photo} onDeleted={props.onDeleted} />}
    </figure>
  );
}

export function CasePhotos(props: { photos: Photo[]; onDeleted?: () => void }) {
  const [denied, setDenied] = useState(false);
  return (
    <section class="card" aria-labelledby="ph-h">
      <h2 id="ph-h">{t("photos.title")}</h2>
      {props.photos.length === 0 ? <p class="muted">{t("photos.none")}</p>
        : denied ? <p class="muted" id="photos-restricted">{t("case.photos.restricted", { n: props.photos.length })}</p>
        : <div class="photo-grid" id="case-photos">
            {props.photos.map((p) => <PhotoFigure photo={p} onDenied={() => setDenied(true)}
                                                  onDeleted={props.onDeleted || (() => undefined)} />)}
          </div>}
    </section>
  );
}

/** A photo as the customer's case view lists it: their own carry the url to read it back. */
export interface ListedPhoto {
  attachment: number;
  content_type: string;
  bytes: number;
  at: string;
  uploaded_by?: string;
  url?: string;
}

function OwnPhoto(props: { photo: ListedPhoto; token: string }) {
  const [failed, setFailed] = useState(false);
  // the proof goes in the query as for the case view: an <img> sends no header. The page's
  // Referrer-Policy is no-referrer and nginx logs no query string, so the token stays here.
  const src = `${props.photo.url}?token=${encodeURIComponent(props.token)}`;
  const alt = t("photos.own.alt", { n: props.photo.attachment });
  return (
    <figure class="photo own-photo">
      {failed ? <div class="photo-wait muted">{t("case.photos.failed")}</div> : (
        <a href={src} target="_blank" rel="noopener noreferrer" aria-label={t("photos.own.open", { n: props.photo.attachment })}>
          <img src={src} alt={alt} loading="lazy" decoding="async" onError={() => setFailed(true)} />
        </a>
      )}
      <figcaption>#{props.photo.attachment} · {fmtTime(props.photo.at)}</figcaption>
    </figure>
  );
}

/** The photos the customer sent, as thumbnails (each opens full size), read with the proof of
 *  their status link; photos a member of staff added are counted, not shown. */
export function OwnPhotos(props: { photos: ListedPhoto[]; token: string }) {
  const mine = props.photos.filter((p) => p.url);
  if (!mine.length) return null;
  return (
    <div class="photo-grid thumbs" id="own-photos">
      {mine.map((p) => <OwnPhoto photo={p} token={props.token} />)}
    </div>
  );
}
