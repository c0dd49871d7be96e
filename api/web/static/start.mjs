// Progressive enhancement only: every page works without this (GOV.UK Frontend's components, e.g. the menu).
import { initAll } from "../govuk-frontend/govuk-frontend.min.js";
initAll();
