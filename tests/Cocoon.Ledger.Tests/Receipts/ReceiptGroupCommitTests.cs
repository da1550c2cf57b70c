using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Receipts;

namespace Cocoon.Ledger.Tests.Receipts;

/// <summary>
/// Receipts kept through the ledger writer's group commit (ReceiptStore with the ledger of the same database): each is
/// found by its payer, a repeated request id keeps the first, and receipts committed in the same transactions as other
/// requests' holds and settlements leave the ledger balanced.
/// </summary>
public sealed class ReceiptGroupCommitTests : LedgerTestBase
{
    internal static ReceiptRecord Record(string requestId, string payer, long charged, string receipt = "{\"signed\":1}") => new()
    {
        RequestId = requestId,
        Payer = payer,
        WorkerId = "w-1",
        SignedReceiptJson = receipt,
        AttestationJson = "{\"bundle\":1}",
        ChargedNanotons = charged,
        CreatedAtMs = 1_700_000_000_000,
    };

    [Fact]
    public async Task A_receipt_saved_through_the_writer_is_found_by_its_payer_and_a_repeat_keeps_the_first()
    {
        var store = new ReceiptStore(Database, Ledger);
        await store.SaveAsync(Record("r-1", "apikey:a", 42), Ct);
        await store.SaveAsync(Record("r-1", "apikey:a", 99, receipt: "{\"signed\":2}"), Ct);

        var found = await store.FindAsync("r-1", "apikey:a", Ct);
        Assert.NotNull(found);
        Assert.Equal(42, found.Value.Receipt.ChargedNanotons);
        Assert.Equal("{\"signed\":1}", found.Value.Receipt.SignedReceiptJson);
        Assert.Equal("{\"bundle\":1}", found.Value.Receipt.AttestationJson);
        Assert.Null(await store.FindAsync("r-1", "apikey:b", Ct));
        Assert.Single(await store.UnanchoredAsync(10, Ct));
    }

    [Fact]
    public async Task Receipts_share_transactions_with_holds_and_settlements_and_all_land()
    {
        var payer = NewUser();
        await FundAsync(payer, 1_000_000);
        var store = new ReceiptStore(Database, Ledger);
        var before = Ledger.WriterStats;

        // Many answers at once: hold, settle and keep the receipt, as the gateway does.
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            var hold = await Ledger.HoldAsync(payer, 1000, "dispatch:g-" + i, Ct);
            var charged = await Ledger.SettleAsync(hold.Id, [new Payee(AccountId.Provider("p"), 600), new Payee(AccountId.NetworkFee, 100)], Ct);
            await store.SaveAsync(Record("g-" + i, payer.Value, charged), Ct);
        }));

        var after = Ledger.WriterStats;
        Assert.Equal(64 * 3, after.Operations - before.Operations);
        Assert.Equal(64, (await store.UnanchoredAsync(100, Ct)).Count);
        Assert.Equal(1_000_000 - (64 * 700), await Ledger.GetBalanceAsync(payer, Ct));
        foreach (var i in new[] { 0, 31, 63 })
        {
            Assert.Equal(700, (await store.FindAsync("g-" + i, payer.Value, Ct))!.Value.Receipt.ChargedNanotons);
        }
    }

    [Fact]
    public async Task A_store_on_another_database_than_its_ledger_saves_on_its_own()
    {
        using var otherDir = new Cocoon.Testing.TempDir("cocoon-ledger-other");
        var other = new Data.LedgerDatabase($"Data Source={otherDir.File("ledger.db")}");
        await other.MigrateAsync(Ct);
        var store = new ReceiptStore(other, Ledger);
        await store.SaveAsync(Record("o-1", "apikey:o", 5), Ct);
        Assert.NotNull(await store.FindAsync("o-1", "apikey:o", Ct));
        Assert.Null(await new ReceiptStore(Database).FindAsync("o-1", "apikey:o", Ct));
    }
}
