"""A customer's and a staff member's day, through the Python client generated from bankd's
/api/schema/ by openapi-python-client, and nothing else (tests/generated_clients.rs runs it).

Usage: flow.py BASE_URL PACKAGE STAFF_USERNAME STAFF_PASSWORD (the password on stdin is not
needed: it is a throwaway made by the test). PACKAGE is the generated package's name; its
parent folder must be on PYTHONPATH.

Every call sets raise_on_unexpected_status, so an answer whose status the document does not
declare fails the flow instead of parsing as None.
"""

import datetime
import importlib
import pkgutil
import sys


def import_every_module(package_name):
    """Imports the package and every module in it; returns how many. Issue #12 found 13 of 42
    modules failing here."""
    package = importlib.import_module(package_name)
    count = 1
    for module in pkgutil.walk_packages(package.__path__, package_name + "."):
        importlib.import_module(module.name)
        count += 1
    return count


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    base_url, package_name, staff_username, staff_password = sys.argv[1:5]
    modules = import_every_module(package_name)
    print(f"imported {modules} modules of {package_name}")

    client_module = importlib.import_module(package_name)
    api = lambda name: importlib.import_module(f"{package_name}.api.{name}")  # noqa: E731
    models = importlib.import_module(f"{package_name}.models")
    anonymous = client_module.Client(base_url=base_url, raise_on_unexpected_status=True)

    def token_for(username, password):
        token = api("auth.get_token_create").sync(
            client=anonymous,
            body=models.Credentials(username=username, password=password),
        )
        check(isinstance(token, models.Token), f"token: {token!r}")
        return client_module.AuthenticatedClient(
            base_url=base_url,
            token=token.token,
            prefix="Token",
            raise_on_unexpected_status=True,
        )

    # Register, then log in.
    registered = api("auth.register_create").sync_detailed(
        client=anonymous,
        body=models.Register(
            username="flow",
            password="a-strong-password123",
            full_name="Flow Customer",
            email="flow@example.com",
        ),
    )
    check(registered.status_code == 201, f"register: {registered.status_code}")
    customer = token_for("flow", "a-strong-password123")

    # The profile was registered without a gender: null, which the nullable enum must accept.
    profiles = api("customers.customers_list").sync(client=customer)
    check(profiles.count == 1, f"customers: {profiles!r}")
    check(profiles.results[0].gender is None, "gender should be None")

    # Two accounts; money in; a transfer with an Idempotency-Key, retried.
    main_account = api("accounts.accounts_create").sync(
        client=customer, body=models.AccountInput(nickname="main")
    )
    savings = api("accounts.accounts_create").sync(
        client=customer,
        body=models.AccountInput(account_type=models.AccountInputAccountType.SAVINGS),
    )
    check(isinstance(main_account, models.Account), f"account: {main_account!r}")
    accounts = api("accounts.accounts_list").sync(client=customer)
    check(accounts.count == 2, f"accounts: {accounts.count}")
    posting = api("accounts.accounts_deposit_create").sync(
        id=main_account.id, client=customer, body=models.Movement(amount="100.00")
    )
    check(posting.new_balance == "100.00", f"deposit: {posting!r}")
    transfer_body = models.TransferInput(
        to_account_number=savings.account_number, amount="30.00"
    )
    transfers = [
        api("accounts.accounts_transfer_create").sync_detailed(
            id=main_account.id,
            client=customer,
            body=transfer_body,
            idempotency_key="flow-transfer-1",
        )
        for _ in range(2)
    ]
    check(transfers[0].parsed.from_account_balance == "70.00", "transfer balance")
    check(
        transfers[1].headers.get("Idempotent-Replayed") == "true",
        "the retry is a replay",
    )
    check(
        transfers[1].parsed.transfer_id == transfers[0].parsed.transfer_id,
        "the retry moved no money again",
    )

    # A business refusal reads as an Error with its code, a bad field as FieldErrors.
    refused = api("accounts.accounts_withdraw_create").sync(
        id=main_account.id, client=customer, body=models.Movement(amount="1000.00")
    )
    check(isinstance(refused, models.Error), f"refusal: {refused!r}")
    check(refused.code == "insufficient_funds", f"code: {refused.code}")
    invalid = api("accounts.accounts_withdraw_create").sync(
        id=main_account.id, client=customer, body=models.Movement(amount="-1")
    )
    check(isinstance(invalid, models.FieldErrors), f"field errors: {invalid!r}")
    check("amount" in invalid.additional_properties, f"{invalid.additional_properties}")

    # The ledger, filtered with typed parameters.
    deposits = api("transactions.transactions_list").sync(
        client=customer,
        account=main_account.id,
        transaction_type=models.TransactionsListTransactionType.DEPOSIT,
        page_size=10,
    )
    check(deposits.count == 1, f"deposits: {deposits.count}")
    check(deposits.results[0].amount == "100.00", "deposit amount")

    # A card: number and CVV in the issuing answer only.
    card = api("cards.cards_create").sync(
        client=customer,
        body=models.CardInput(
            account=main_account.id, card_type=models.CardInputCardType.DEBIT
        ),
    )
    check(isinstance(card, models.IssuedCard), f"card: {card!r}")
    check(len(card.card_number) == 16, "card number")
    shown = api("cards.cards_retrieve").sync(id=card.id, client=customer)
    check(shown.masked_number.endswith(card.card_number[-4:]), "masked number")

    # A statement, as JSON and as the CSV download.
    today = datetime.datetime.now(datetime.timezone.utc).date()
    statement = api("accounts.accounts_statements_create").sync(
        id=main_account.id,
        client=customer,
        body=models.StatementInput(start_date=today, end_date=today),
    )
    check(statement.closing_balance == "70.00", f"statement: {statement!r}")
    retrieve = api("statements.statements_retrieve")
    detail = retrieve.sync(id=statement.id, client=customer)
    check(detail.transactions.count == 2, "statement transactions")
    check(len(detail.transactions.results) == 2, "statement transactions page")
    # openapi-python-client parses a 200 by its first media type only (JSON), so the CSV is
    # read through the generated request builder and the generated client's own connection.
    kwargs = retrieve._get_kwargs(
        id=statement.id, format_=models.StatementsRetrieveFormat.CSV
    )
    csv = customer.get_httpx_client().request(**kwargs)
    check(csv.status_code == 200, f"csv: {csv.status_code}")
    check(csv.headers["content-type"].startswith("text/csv"), "csv media type")
    check(csv.text.startswith("created_at,transaction_id"), "csv header row")

    # A customer is not staff; staff freezes the account and money stops.
    denied = api("admin.admin_accounts_freeze_create").sync(
        id=main_account.id, client=customer
    )
    check(isinstance(denied, models.Error), f"denied: {denied!r}")
    check(denied.code == "permission_denied", f"code: {denied.code}")
    staff = token_for(staff_username, staff_password)
    frozen = api("admin.admin_accounts_freeze_create").sync(
        id=main_account.id, client=staff
    )
    check(frozen.status == models.AccountStatus.FROZEN, f"frozen: {frozen!r}")
    blocked = api("accounts.accounts_deposit_create").sync(
        id=main_account.id, client=customer, body=models.Movement(amount="1.00")
    )
    check(isinstance(blocked, models.Error), f"blocked: {blocked!r}")
    check(blocked.code == "account_frozen", f"code: {blocked.code}")

    print("flow passed")


if __name__ == "__main__":
    main()
