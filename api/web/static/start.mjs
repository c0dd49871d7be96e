// Progressive enhancement only: every page works without this (GOV.UK Frontend's components, e.g. the menu).
// The template's inline script that marks the page as able to run them is refused by the Content-Security-Policy
// (scripts from this server only), so it is done here: a module script runs only where GOV.UK Frontend can.
import { initAll } from "../govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
