using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Ton;

public sealed class TonProofTests
{
    private const string Domain = "cocoon.example";
    private const string Subject = "tg:7001";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    [Fact]
    public async Task A_valid_proof_verifies_once()
    {
        var (verifier, request, wallet) = await MakeAsync();
        Assert.Equal(wallet.Address, await verifier.VerifyAsync(request, Subject, default));
        Assert.Contains("already used", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_payload_issued_to_one_user_does_not_log_in_another_and_stays_usable_by_its_owner()
    {
        var (verifier, request, wallet) = await MakeAsync();
        Assert.Contains("issued to you", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request, "tg:9999", default))).Message, StringComparison.Ordinal);
        Assert.Equal(wallet.Address, await verifier.VerifyAsync(request, Subject, default));
    }

    [Fact]
    public async Task A_v4r2_wallet_proof_verifies()
    {
        using var key = WalletKey.FromSeed(new byte[32]);
        var wallet = new WalletV4R2(key.PublicKey);
        var (verifier, _, _) = await MakeAsync();
        var nonce = await verifier.IssueNonceAsync(Subject, default);
        var ts = Now.ToUnixTimeSeconds();
        var sig = key.Sign(TonProofVerifier.SigningHash(wallet.Address, Domain, ts, nonce));
        var request = new TonProofRequest(wallet.Address.ToRaw(), Domain, ts, nonce, Convert.ToBase64String(sig), wallet.StateInit.ToCell().ToBocBase64());
        Assert.Equal(wallet.Address, await verifier.VerifyAsync(request, Subject, default));
    }

    [Fact]
    public async Task Foreign_domain_is_rejected()
    {
        var (verifier, request, _) = await MakeAsync(domain: "evil.example");
        Assert.Contains("not allowed", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stale_proof_is_rejected()
    {
        var (verifier, request, _) = await MakeAsync(age: TimeSpan.FromHours(1));
        Assert.Contains("stale", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forged_signature_is_rejected_and_does_not_burn_the_nonce()
    {
        var (verifier, request, wallet) = await MakeAsync();
        var sig = Convert.FromBase64String(request.SignatureBase64);
        sig[5] ^= 1;
        Assert.Contains("does not verify", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request with { SignatureBase64 = Convert.ToBase64String(sig) }, Subject, default))).Message, StringComparison.Ordinal);
        Assert.Equal(wallet.Address, await verifier.VerifyAsync(request, Subject, default));
    }

    [Fact]
    public async Task Unknown_nonce_is_rejected()
    {
        var (verifier, request, _) = await MakeAsync(issue: false);
        Assert.Contains("nonce", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task State_init_of_another_wallet_is_rejected()
    {
        var (verifier, request, _) = await MakeAsync();
        using var other = WalletKey.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray());
        var otherInit = new WalletV5R1(other.PublicKey).StateInit.ToCell().ToBocBase64();
        Assert.Contains("does not hash", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request with { WalletStateInitBase64 = otherInit }, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_claimed_public_key_is_rejected()
    {
        var (verifier, request, _) = await MakeAsync();
        Assert.Contains("public key", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request with { PublicKeyHex = new string('a', 64) }, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(-1L)]
    [InlineData(253_402_300_800L)] // one second past DateTimeOffset.MaxValue
    public async Task A_timestamp_outside_any_date_is_refused_not_thrown_on(long timestamp)
    {
        var (verifier, request, _) = await MakeAsync();
        Assert.Contains("stale or in the future", (await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(request with { Timestamp = timestamp }, Subject, default))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_proof_missing_a_field_is_refused()
    {
        var (verifier, request, _) = await MakeAsync();
        foreach (var broken in new[] { request with { WalletStateInitBase64 = null! }, request with { Domain = null! }, request with { SignatureBase64 = null! }, request with { Address = null! } })
        {
            await Assert.ThrowsAsync<TonProofException>(() => verifier.VerifyAsync(broken, Subject, default));
        }
    }

    private static async Task<(TonProofVerifier Verifier, TonProofRequest Request, WalletV5R1 Wallet)> MakeAsync(string domain = Domain, TimeSpan age = default, bool issue = true)
    {
        var clock = new FixedClock(Now);
        var verifier = new TonProofVerifier(Options.Create(new TonProofOptions { AllowedDomains = [Domain] }), clock, new InMemoryTonProofNonces(clock));
        using var key = WalletKey.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var wallet = new WalletV5R1(key.PublicKey);
        var nonce = issue ? await verifier.IssueNonceAsync(Subject, default) : "never-issued";
        var ts = (Now - age).ToUnixTimeSeconds();
        var sig = key.Sign(TonProofVerifier.SigningHash(wallet.Address, domain, ts, nonce));
        return (verifier, new TonProofRequest(wallet.Address.ToFriendly(), domain, ts, nonce, Convert.ToBase64String(sig), wallet.StateInit.ToCell().ToBocBase64(), Convert.ToHexStringLower(key.PublicKey)), wallet);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

public sealed class TonConnectLoginTests
{
    private const string Subject = "tg:7001";

    [Fact]
    public async Task The_wallet_json_maps_onto_a_verifiable_request()
    {
        using var key = WalletKey.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var wallet = new WalletV5R1(key.PublicKey);
        var now = DateTimeOffset.UtcNow;
        var clock = new FixedTime(now);
        var verifier = new TonProofVerifier(Microsoft.Extensions.Options.Options.Create(new TonProofOptions { AllowedDomains = ["app.cocoon.example"] }), clock, new InMemoryTonProofNonces(clock));
        var nonce = await verifier.IssueNonceAsync(Subject, default);
        var sig = Convert.ToBase64String(key.Sign(TonProofVerifier.SigningHash(wallet.Address, "app.cocoon.example", now.ToUnixTimeSeconds(), nonce)));
        var json = $$$"""
            {"address":"{{{wallet.Address.ToRaw()}}}","network":"-239","public_key":"{{{Convert.ToHexStringLower(key.PublicKey)}}}",
             "walletStateInit":"{{{wallet.StateInit.ToCell().ToBocBase64()}}}",
             "proof":{"timestamp":{{{now.ToUnixTimeSeconds()}}},"domain":{"lengthBytes":18,"value":"app.cocoon.example"},"signature":"{{{sig}}}","payload":"{{{nonce}}}"}}
            """;
        var login = System.Text.Json.JsonSerializer.Deserialize<TonConnectLogin>(json)!;
        Assert.Equal(wallet.Address, await verifier.VerifyAsync(login.ToRequest(), Subject, default));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
