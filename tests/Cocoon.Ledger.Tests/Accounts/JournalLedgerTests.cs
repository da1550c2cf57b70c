using Cocoon.Ledger.Accounts;

namespace Cocoon.Ledger.Tests.Accounts;

public sealed class JournalLedgerTests : LedgerTestBase
{
    private static readonly AccountId Provider = AccountId.Provider("p1");

    [Fact]
    public async Task Credit_moves_money_from_the_source_and_balances()
    {
        var user = NewUser();
        await Ledger.CreditAsync(user, 1_000, AccountId.TonHotWallet, "deposit:tx1", Ct);

        Assert.Equal(1_000, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(-1_000, await Ledger.GetBalanceAsync(AccountId.TonHotWallet, Ct));
    }

    [Fact]
    public async Task Repeated_credit_key_is_a_no_op()
    {
        var user = NewUser();
        await Ledger.CreditAsync(user, 500, AccountId.StarsClearing, "stars:charge-1", Ct);
        await Ledger.CreditAsync(user, 500, AccountId.StarsClearing, "stars:charge-1", Ct);
        await Ledger.CreditAsync(user, 999, AccountId.StarsClearing, "stars:charge-1", Ct);

        Assert.Equal(500, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Single(await Ledger.GetRecentEntriesAsync(user, 10, Ct));
    }

    [Fact]
    public async Task Concurrent_credits_with_one_key_post_once_even_from_two_writers()
    {
        var user = NewUser();
        var other = CreateLedger();
        var calls = Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? Ledger : other).CreditAsync(user, 700, AccountId.TonHotWallet, "deposit:same-tx", Ct));
        await Task.WhenAll(calls);

        Assert.Equal(700, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(700, await other.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task Hold_reserves_settle_pays_and_releases_the_rest()
    {
        var user = NewUser();
        await FundAsync(user, 10_000);

        var hold = await Ledger.HoldAsync(user, 4_000, "job:1", Ct);
        Assert.Equal(user, hold.Payer);
        Assert.Equal(4_000, hold.Amount);
        Assert.Equal(6_000, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(new AccountBalance(user, 10_000, 4_000), await Ledger.GetAccountAsync(user, Ct));

        var charged = await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 900), new Payee(AccountId.NetworkFee, 100), new Payee(AccountId.Rounding, 1)], Ct);

        Assert.Equal(1_001, charged);
        Assert.Equal(8_999, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(new AccountBalance(user, 8_999, 0), await Ledger.GetAccountAsync(user, Ct));
        Assert.Equal(900, await Ledger.GetBalanceAsync(Provider, Ct));
        Assert.Equal(100, await Ledger.GetBalanceAsync(AccountId.NetworkFee, Ct));
        Assert.Equal(1, await Ledger.GetBalanceAsync(AccountId.Rounding, Ct));
    }

    [Fact]
    public async Task Settle_is_idempotent_per_hold()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var hold = await Ledger.HoldAsync(user, 1_000, "job:2", Ct);

        Assert.Equal(300, await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 300)], Ct));
        Assert.Equal(300, await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 300)], Ct));
        // A retry with different numbers still returns the first result and changes nothing.
        Assert.Equal(300, await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 999)], Ct));
        Assert.Equal(700, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(300, await Ledger.GetBalanceAsync(Provider, Ct));
    }

    [Fact]
    public async Task Hold_key_is_idempotent_sequentially_and_concurrently()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var other = CreateLedger();

        var first = await Ledger.HoldAsync(user, 600, "job:3", Ct);
        var again = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? Ledger : other).HoldAsync(user, 600, "job:3", Ct)));

        Assert.All(again, h => Assert.Equal(first, h));
        Assert.Equal(400, await Ledger.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task Hold_retry_returns_the_hold_even_when_the_money_is_gone()
    {
        var user = NewUser();
        await FundAsync(user, 500);
        var hold = await Ledger.HoldAsync(user, 500, "job:4", Ct);

        Assert.Equal(hold, await Ledger.HoldAsync(user, 500, "job:4", Ct));
    }

    [Fact]
    public async Task Release_returns_the_hold_and_is_idempotent()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var hold = await Ledger.HoldAsync(user, 800, "job:5", Ct);

        await Ledger.ReleaseAsync(hold.Id, Ct);
        await Ledger.ReleaseAsync(hold.Id, Ct);

        Assert.Equal(new AccountBalance(user, 1_000, 0), await Ledger.GetAccountAsync(user, Ct));
        var closed = await Assert.ThrowsAsync<HoldClosedException>(() => Ledger.SettleAsync(hold.Id, [new Payee(Provider, 1)], Ct));
        Assert.Equal("released", closed.State);
        Assert.Equal(0, await Ledger.GetBalanceAsync(Provider, Ct));
    }

    [Fact]
    public async Task Release_after_settle_changes_nothing()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var hold = await Ledger.HoldAsync(user, 800, "job:6", Ct);
        await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 250)], Ct);

        await Ledger.ReleaseAsync(hold.Id, Ct);

        Assert.Equal(new AccountBalance(user, 750, 0), await Ledger.GetAccountAsync(user, Ct));
    }

    [Fact]
    public async Task Concurrent_settle_and_release_of_one_hold_have_exactly_one_winner()
    {
        var user = NewUser();
        await FundAsync(user, 1_000_000);
        var other = CreateLedger(maxBatch: 1);
        var settledCount = 0;
        var releasedCount = 0;
        for (var round = 0; round < 40; round++)
        {
            var hold = await Ledger.HoldAsync(user, 1_000, $"race:{round}", Ct);
            var (settler, releaser) = round % 2 == 0 ? (Ledger, other) : (other, Ledger);
            var settle = Task.Run(() => settler.SettleAsync(hold.Id, [new Payee(Provider, 400)], Ct), Ct);
            var release = Task.Run(() => releaser.ReleaseAsync(hold.Id, Ct), Ct);
            await release;
            try
            {
                Assert.Equal(400, await settle);
                settledCount++;
            }
            catch (HoldClosedException)
            {
                releasedCount++;
            }
        }

        Assert.Equal(40, settledCount + releasedCount);
        Assert.Equal(400L * settledCount, await Ledger.GetBalanceAsync(Provider, Ct));
        Assert.Equal(new AccountBalance(user, 1_000_000 - (400L * settledCount), 0), await Ledger.GetAccountAsync(user, Ct));
    }

    [Fact]
    public async Task Insufficient_funds_are_refused_clearly()
    {
        var user = NewUser();
        await FundAsync(user, 100);

        var ex = await Assert.ThrowsAsync<InsufficientFundsException>(() => Ledger.HoldAsync(user, 101, "job:7", Ct));
        Assert.Equal(user, ex.Account);
        Assert.Equal(101, ex.Needed);
        Assert.Equal(100, ex.Available);
        Assert.Contains(user.Value, ex.Message, StringComparison.Ordinal);

        await Assert.ThrowsAsync<InsufficientFundsException>(() => Ledger.CreditAsync(Provider, 1, NewUser(), "transfer:x", Ct));
        Assert.Equal(100, await Ledger.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task A_refused_operation_does_not_spoil_its_batch()
    {
        var rich = NewUser();
        var poor = NewUser();
        await FundAsync(rich, 1_000_000);
        var calls = Enumerable.Range(0, 200).Select(async i =>
        {
            var payer = i % 2 == 0 ? rich : poor;
            try
            {
                var hold = await Ledger.HoldAsync(payer, 10, $"mixed:{i}", Ct);
                await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 7)], Ct);
                return true;
            }
            catch (InsufficientFundsException)
            {
                return false;
            }
        }).ToList();
        var results = await Task.WhenAll(calls);

        Assert.Equal(100, results.Count(r => r));
        Assert.Equal(700, await Ledger.GetBalanceAsync(Provider, Ct));
        Assert.Equal(1_000_000 - 700, await Ledger.GetBalanceAsync(rich, Ct));
    }

    [Fact]
    public async Task Racing_holds_never_take_a_balance_below_zero()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var other = CreateLedger();
        var granted = 0L;
        await Task.WhenAll(Enumerable.Range(0, 60).Select(async i =>
        {
            try
            {
                var hold = await (i % 2 == 0 ? Ledger : other).HoldAsync(user, 70, $"greedy:{i}", Ct);
                Interlocked.Add(ref granted, hold.Amount);
            }
            catch (InsufficientFundsException)
            {
            }
        }));

        Assert.Equal(980, granted); // 14 holds of 70 fit in 1000
        Assert.Equal(20, await Ledger.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task Network_sources_may_go_negative_people_may_not()
    {
        var user = NewUser();
        await Ledger.CreditAsync(user, 5, AccountId.FreeAllowance, "gift:1", Ct);
        await Ledger.CreditAsync(user, 5, AccountId.StarsClearing, "stars:1", Ct);
        await Ledger.CreditAsync(user, 5, AccountId.TonHotWallet, "ton:1", Ct);

        Assert.Equal(15, await Ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(-5, await Ledger.GetBalanceAsync(AccountId.FreeAllowance, Ct));
        await Assert.ThrowsAsync<InsufficientFundsException>(() => Ledger.CreditAsync(AccountId.TonHotWallet, 16, user, "payout:1", Ct));
        await Ledger.CreditAsync(AccountId.TonHotWallet, 15, user, "payout:2", Ct);
        Assert.Equal(0, await Ledger.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task Free_allowance_is_granted_once_per_account()
    {
        var user = NewUser();

        Assert.True(await Ledger.EnsureFreeAllowanceAsync(user, 50_000, Ct));
        Assert.False(await Ledger.EnsureFreeAllowanceAsync(user, 50_000, Ct));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Ledger.EnsureFreeAllowanceAsync(user, 50_000, Ct)));

        Assert.All(concurrent, Assert.False);
        Assert.Equal(50_000, await Ledger.GetBalanceAsync(user, Ct));
        var line = Assert.Single(await Ledger.GetRecentEntriesAsync(user, 5, Ct));
        Assert.Equal("free-allowance", line.Kind);
        Assert.Equal(50_000, line.Amount);
    }

    [Fact]
    public async Task Settling_more_than_the_hold_is_refused_and_the_hold_stays_usable()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var hold = await Ledger.HoldAsync(user, 100, "job:8", Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.SettleAsync(hold.Id, [new Payee(Provider, 60), new Payee(AccountId.NetworkFee, 41)], Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.SettleAsync(hold.Id, [new Payee(Provider, -1)], Ct));
        Assert.Equal(100, await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 60), new Payee(AccountId.NetworkFee, 40)], Ct));
        Assert.Equal(900, await Ledger.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task Zero_charge_settles_without_an_entry()
    {
        var user = NewUser();
        await FundAsync(user, 1_000);
        var hold = await Ledger.HoldAsync(user, 100, "job:9", Ct);

        Assert.Equal(0, await Ledger.SettleAsync(hold.Id, [], Ct));
        Assert.Equal(1_000, await Ledger.GetBalanceAsync(user, Ct));
    }

    [Fact]
    public async Task Unknown_holds_are_a_clear_error()
    {
        var missing = Guid.NewGuid();
        var ex = await Assert.ThrowsAsync<HoldNotFoundException>(() => Ledger.SettleAsync(missing, [new Payee(Provider, 1)], Ct));
        Assert.Equal(missing, ex.HoldId);
        await Assert.ThrowsAsync<HoldNotFoundException>(() => Ledger.ReleaseAsync(missing, Ct));
    }

    [Fact]
    public async Task Expired_holds_are_released_and_cannot_be_settled()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var ledger = CreateLedger(time: clock, holdTtl: TimeSpan.FromMinutes(10));
        var user = NewUser();
        await ledger.CreditAsync(user, 1_000, AccountId.TonHotWallet, "fund:exp", Ct);
        var early = await ledger.HoldAsync(user, 300, "job:early", Ct);
        clock.Now += TimeSpan.FromMinutes(6);
        var late = await ledger.HoldAsync(user, 200, "job:late", Ct);
        Assert.Equal(clock.Now + TimeSpan.FromMinutes(10), late.ExpiresAt);

        clock.Now += TimeSpan.FromMinutes(5);
        Assert.Equal(1, await ledger.ExpireHoldsAsync(Ct));
        Assert.Equal(0, await ledger.ExpireHoldsAsync(Ct));

        Assert.Equal(new AccountBalance(user, 1_000, 200), await ledger.GetAccountAsync(user, Ct));
        var closed = await Assert.ThrowsAsync<HoldClosedException>(() => ledger.SettleAsync(early.Id, [new Payee(Provider, 10)], Ct));
        Assert.Equal("expired", closed.State);
        Assert.Equal(50, await ledger.SettleAsync(late.Id, [new Payee(Provider, 50)], Ct));
    }

    [Fact]
    public async Task One_transaction_per_operation_gives_the_same_ledger()
    {
        var single = CreateLedger(maxBatch: 1);
        var user = NewUser();
        await single.CreditAsync(user, 10_000, AccountId.TonHotWallet, "fund:single", Ct);
        await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            var hold = await single.HoldAsync(user, 100, $"single:{i}", Ct);
            if (i % 3 == 0)
            {
                await single.ReleaseAsync(hold.Id, Ct);
            }
            else
            {
                await single.SettleAsync(hold.Id, [new Payee(Provider, 40), new Payee(AccountId.NetworkFee, 5)], Ct);
            }
        }));

        Assert.Equal(10_000 - (20 * 45), await single.GetBalanceAsync(user, Ct));
        Assert.Equal(20 * 40, await single.GetBalanceAsync(Provider, Ct));
    }

    [Fact]
    public async Task Statements_and_activity_for_usage_and_earnings()
    {
        var user = NewUser();
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);
        await FundAsync(user, 5_000);
        for (var i = 0; i < 3; i++)
        {
            var hold = await Ledger.HoldAsync(user, 1_000, $"usage:{i}", Ct);
            await Ledger.SettleAsync(hold.Id, [new Payee(Provider, 90), new Payee(AccountId.NetworkFee, 10)], Ct);
        }

        var recent = await Ledger.GetRecentEntriesAsync(user, 2, Ct);
        Assert.Equal(2, recent.Count);
        Assert.All(recent, l => Assert.Equal(("settle", -100L), (l.Kind, l.Amount)));
        Assert.True(recent[0].EntryId > recent[1].EntryId);

        var spend = await Ledger.GetActivitySinceAsync(user, start, Ct);
        Assert.Equal((5_000L, 300L, 4), (spend.Received, spend.Spent, spend.Entries));
        var earnings = await Ledger.GetActivitySinceAsync(Provider, start, Ct);
        Assert.Equal((270L, 0L, 3), (earnings.Received, earnings.Spent, earnings.Entries));
        var none = await Ledger.GetActivitySinceAsync(Provider, DateTimeOffset.UtcNow.AddHours(1), Ct);
        Assert.Equal(0, none.Entries);
    }

    [Fact]
    public async Task A_batch_that_fails_in_the_database_is_retried_one_operation_at_a_time()
    {
        var user = NewUser();
        await FundAsync(user, 100_000);
        var poisoned = await Ledger.HoldAsync(user, 1_000, "poison", Ct);
        // Another writer took the settlement's key (a foreign row the unique index refuses): that settle fails in the
        // database after the batch has written, so the whole batch rolls back and each operation runs alone.
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection(Database.ConnectionString))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = $"INSERT INTO \"LedgerEntries\" (\"IdempotencyKey\", \"Kind\", \"Amount\", \"CreatedAtMs\") VALUES ('settle:{poisoned.Id:D}', 'foreign', 0, 0)";
            await command.ExecuteNonQueryAsync(Ct);
        }

        var holds = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Ledger.HoldAsync(user, 100, $"bystander:{i}", Ct)));
        var bystanders = holds.Select(h => Ledger.SettleAsync(h.Id, [new Payee(Provider, 60)], Ct)).ToList();
        var bad = Ledger.SettleAsync(poisoned.Id, [new Payee(Provider, 500)], Ct);

        Assert.All(await Task.WhenAll(bystanders), charged => Assert.Equal(60, charged));
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Equal(50 * 60, await Ledger.GetBalanceAsync(Provider, Ct));
        await Ledger.ReleaseAsync(poisoned.Id, Ct);
        Assert.Equal(new AccountBalance(user, 100_000 - (50 * 60), 0), await Ledger.GetAccountAsync(user, Ct));
    }

    [Fact]
    public Task A_crash_between_a_batchs_writes_and_its_commit_loses_nothing_and_doubles_nothing() =>
        CrashMidBatch.RunAsync(Ledger, CreateLedger(), connection => connection.Close(), "sqlite", Ct);

    [Fact]
    public async Task Bad_arguments_are_refused_before_the_queue()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Ledger.HoldAsync(NewUser(), -1, "k", Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.HoldAsync(NewUser(), 1, " ", Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.HoldAsync(default, 1, "k", Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Ledger.CreditAsync(NewUser(), 0, AccountId.TonHotWallet, "k", Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.CreditAsync(AccountId.TonHotWallet, 1, AccountId.TonHotWallet, "k", Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Ledger.CreditAsync(NewUser(), 1, AccountId.TonHotWallet, "settle:" + Guid.NewGuid(), Ct));
    }
}
