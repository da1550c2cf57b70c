using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Ton;

public sealed class TonProofTests
{
    private const string Domain = "cocoon.example";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    [Fact]
    public void A_valid_proof_verifies_once()
    {
        var (verifier, request, wallet) = Make();
        Assert.Equal(wallet.Address, verifier.Verify(request));
        Assert.Contains("already used", Assert.Throws<TonProofException>(() => verifier.Verify(request)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_v4r2_wallet_proof_verifies()
    {
        using var key = WalletKey.FromSeed(new byte[32]);
        var wallet = new WalletV4R2(key.PublicKey);
        var (verifier, _, _) = Make();
        var nonce = verifier.IssueNonce();
        var ts = Now.ToUnixTimeSeconds();
        var sig = key.Sign(TonProofVerifier.SigningHash(wallet.Address, Domain, ts, nonce));
        var request = new TonProofRequest(wallet.Address.ToRaw(), Domain, ts, nonce, Convert.ToBase64String(sig), wallet.StateInit.ToCell().ToBocBase64());
        Assert.Equal(wallet.Address, verifier.Verify(request));
    }

    [Fact]
    public void Foreign_domain_is_rejected()
    {
        var (verifier, request, _) = Make(domain: "evil.example");
        Assert.Contains("not allowed", Assert.Throws<TonProofException>(() => verifier.Verify(request)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stale_proof_is_rejected()
    {
        var (verifier, request, _) = Make(age: TimeSpan.FromHours(1));
        Assert.Contains("stale", Assert.Throws<TonProofException>(() => verifier.Verify(request)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forged_signature_is_rejected_and_does_not_burn_the_nonce()
    {
        var (verifier, request, wallet) = Make();
        var sig = Convert.FromBase64String(request.SignatureBase64);
        sig[5] ^= 1;
        Assert.Contains("does not verify", Assert.Throws<TonProofException>(() => verifier.Verify(request with { SignatureBase64 = Convert.ToBase64String(sig) })).Message, StringComparison.Ordinal);
        Assert.Equal(wallet.Address, verifier.Verify(request));
    }

    [Fact]
    public void Unknown_nonce_is_rejected()
    {
        var (verifier, request, _) = Make(issue: false);
        Assert.Contains("nonce", Assert.Throws<TonProofException>(() => verifier.Verify(request)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void State_init_of_another_wallet_is_rejected()
    {
        var (verifier, request, _) = Make();
        using var other = WalletKey.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray());
        var otherInit = new WalletV5R1(other.PublicKey).StateInit.ToCell().ToBocBase64();
        Assert.Contains("does not hash", Assert.Throws<TonProofException>(() => verifier.Verify(request with { WalletStateInitBase64 = otherInit })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_claimed_public_key_is_rejected()
    {
        var (verifier, request, _) = Make();
        Assert.Contains("public key", Assert.Throws<TonProofException>(() => verifier.Verify(request with { PublicKeyHex = new string('a', 64) })).Message, StringComparison.Ordinal);
    }

    private static (TonProofVerifier Verifier, TonProofRequest Request, WalletV5R1 Wallet) Make(string domain = Domain, TimeSpan age = default, bool issue = true)
    {
        var clock = new FixedClock(Now);
        var verifier = new TonProofVerifier(Options.Create(new TonProofOptions { AllowedDomains = [Domain] }), clock);
        using var key = WalletKey.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var wallet = new WalletV5R1(key.PublicKey);
        var nonce = issue ? verifier.IssueNonce() : "never-issued";
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
    [Fact]
    public void The_wallet_json_maps_onto_a_verifiable_request()
    {
        using var key = WalletKey.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var wallet = new WalletV5R1(key.PublicKey);
        var now = DateTimeOffset.UtcNow;
        var clock = new FixedTime(now);
        var verifier = new TonProofVerifier(Microsoft.Extensions.Options.Options.Create(new TonProofOptions { AllowedDomains = ["app.cocoon.example"] }), clock);
        var nonce = verifier.IssueNonce();
        var sig = Convert.ToBase64String(key.Sign(TonProofVerifier.SigningHash(wallet.Address, "app.cocoon.example", now.ToUnixTimeSeconds(), nonce)));
        var json = $$$"""
            {"address":"{{{wallet.Address.ToRaw()}}}","network":"-239","public_key":"{{{Convert.ToHexStringLower(key.PublicKey)}}}",
             "walletStateInit":"{{{wallet.StateInit.ToCell().ToBocBase64()}}}",
             "proof":{"timestamp":{{{now.ToUnixTimeSeconds()}}},"domain":{"lengthBytes":18,"value":"app.cocoon.example"},"signature":"{{{sig}}}","payload":"{{{nonce}}}"}}
            """;
        var login = System.Text.Json.JsonSerializer.Deserialize<TonConnectLogin>(json)!;
        Assert.Equal(wallet.Address, verifier.Verify(login.ToRequest()));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
