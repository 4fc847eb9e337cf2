// The page's side of jobnb's notifier (widgets/notifier.py): shows a desktop
// notification when the kernel says a job ended, and tells the kernel what the
// browser allows (its "permission": default, granted, denied, or unsupported).
//
// The notification is shown by the model (initialize), not by a view: a job's
// widget is replaced by plain HTML when the job ends, and the message must not be
// lost with it. Each view is the line under a --notify job's widget: a button to ask
// for permission (a browser asks only on a click), or the note that says why no
// notification will come.

function permissionNow() {
  // Notifications need a secure context (https, or localhost) and a browser that has them
  if (typeof window.Notification === "undefined" || !window.isSecureContext) {
    return "unsupported";
  }
  return window.Notification.permission;
}

function report(model) {
  const now = permissionNow();
  if (model.get("permission") !== now) {
    model.set("permission", now);
    model.save_changes();
  }
}

function show(msg) {
  if (permissionNow() !== "granted") {
    return; // the job's widget carries the note instead
  }
  try {
    // tag: a second page of the same notebook shows the same notification once
    const note = new window.Notification(msg.title, { body: msg.body, tag: msg.tag });
    note.onclick = () => {
      window.focus();
      note.close();
    };
  } catch (error) {
    // (Chrome on Android has no page notifications: only a service worker's)
    console.warn("jobnb: could not show a desktop notification:", error);
  }
}

const NOTES = {
  default: "",
  granted: "\u{1F514} a desktop notification will say when this job ends",
  denied:
    "Desktop notifications are blocked for this page, so none will say when this job " +
    "ends: its end shows here. To be notified, allow notifications in the browser's " +
    "settings for this site.",
  unsupported:
    "This browser cannot show desktop notifications for this page (they need https " +
    "or localhost): the job's end shows here.",
};

function draw(model, el) {
  const permission = permissionNow();
  el.replaceChildren();
  el.className = `jobnb-notify jobnb-notify-${permission}`;
  if (permission === "default") {
    const button = document.createElement("button");
    button.className = "jupyter-button jobnb-notify-allow";
    button.textContent = "\u{1F514} Allow desktop notifications";
    button.title = "so that jobnb can tell you when this job ends, in another tab too";
    button.onclick = async () => {
      await window.Notification.requestPermission();
      report(model);
    };
    el.append(button);
    return;
  }
  const note = document.createElement("span");
  note.textContent = NOTES[permission] || "";
  note.style.fontSize = "85%";
  if (permission === "granted") {
    note.style.color = "#6c757d";
  } else {
    note.style.cssText += "background:#fff3cd;color:#664d03;padding:2px 6px;border-radius:4px";
  }
  el.append(note);
}

export default {
  initialize({ model }) {
    report(model);
    // a permission changed in the browser's settings (or by another page) is seen now
    navigator.permissions
      ?.query({ name: "notifications" })
      .then((status) => {
        status.onchange = () => report(model);
      })
      .catch(() => {});
    model.on("msg:custom", (msg) => {
      if (msg.kind === "job ended") {
        show(msg);
      }
    });
  },
  render({ model, el }) {
    const redraw = () => draw(model, el);
    model.on("change:permission", redraw);
    redraw();
    return () => model.off("change:permission", redraw);
  },
};
