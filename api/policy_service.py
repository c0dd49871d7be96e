"""The organisation's policy pack as the application reads it: every version (settings.policy_pack), the one in
force on a day, and the anonymisation check under it.

Part of the application (api/application.py): uses only the core (api/core.py); every area that judges by the
pack takes this service.
"""

from datetime import date

from api.core import Core, Service
from domain.anonymisation import Screening
from domain.errors import DomainError
from domain.pack_history import PackHistory
from domain.policy import PolicyPack
from infrastructure.name_lexicon import default_lexicon
from infrastructure.policy_packs import PolicyPackError, load_history_by_name


class PolicyService(Service):
    """The organisation's policy pack: every version, the one in force on a day. Uses only the core."""

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._packs: dict[str, PackHistory] = {}

    def pack_history(self, pack: PackHistory | PolicyPack | str | None = None) -> PackHistory:
        """Every version of the organisation's pack (settings.policy_pack), or of another one by name or
        instance (what-if, tests; a bare PolicyPack is a history of one version)."""
        if isinstance(pack, PackHistory):
            return pack
        if isinstance(pack, PolicyPack):
            return PackHistory.single(pack)
        name = pack or self.storage.settings.policy_pack
        if name not in self._packs:
            try:
                self._packs[name] = load_history_by_name(name)
            except PolicyPackError as exc:  # a name typed by a user is a refusal, not a server fault
                raise DomainError(str(exc)) from None
        return self._packs[name]

    def compliance_pack(self, pack: PackHistory | PolicyPack | str | None = None, *, on: date | None = None
                        ) -> PolicyPack:
        """The version of the pack in force on `on` (default today): a past day is judged by its own rules."""
        return self.pack_history(pack).in_force_on(on or self.clock().date())

    @property
    def policy_pack(self) -> PolicyPack:
        """The version of the organisation's pack in force today: retention acts now, on records held now."""
        return self.compliance_pack()

    def screening(self) -> Screening:
        """The anonymisation check under the organisation's pack (``anonymisation.names``)."""
        return Screening(default_lexicon(), self.compliance_pack().anonymisation.names)
