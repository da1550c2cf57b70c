using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Ton;

/// <summary>What a TON Connect wallet returns for a <c>ton_proof</c> request (already decoded from its JSON).</summary>
public sealed record TonProofRequest(
    string Address,
    string Domain,
    long Timestamp,
    string Payload,
    string SignatureBase64,
    string WalletStateInitBase64,
    string? PublicKeyHex = null);

public sealed class TonProofOptions
{
    public const string Section = "Ton:Proof";

    /// <summary>Domains (the Mini App's host) a proof may be made for, e.g. "app.example.org".</summary>
    [MinLength(1, ErrorMessage = "Ton:Proof:AllowedDomains must list the Mini App's domain(s), e.g. Ton__Proof__AllowedDomains__0=app.example.org.")]
    public List<string> AllowedDomains { get; set; } = [];

    /// <summary>How old a proof may be.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Ton:Proof:MaxAge must be between 10 seconds and 1 day.")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>A proof names the host it was made for, so an allowed domain is a host, never a URL.</summary>
public sealed class TonProofOptionsValidator : IValidateOptions<TonProofOptions>
{
    public ValidateOptionsResult Validate(string? name, TonProofOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        for (var i = 0; i < options.AllowedDomains.Count; i++)
        {
            var domain = options.AllowedDomains[i];
            // The host as a wallet reports it (a port is allowed: TON Connect takes the manifest URL's host).
            if (string.IsNullOrWhiteSpace(domain) || domain.Contains('/', StringComparison.Ordinal) || domain.Any(char.IsWhiteSpace))
            {
                failures.Add($"Ton:Proof:AllowedDomains:{i} is '{domain}': list the Mini App's host only, without scheme or path (e.g. Ton__Proof__AllowedDomains__{i}=app.example.org).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

public sealed class TonProofException(string message) : Exception(message);

/// <summary>
/// Where issued <c>ton_proof</c> payloads wait for their proof: each belongs to one subject (the Telegram user it was
/// issued to) and is consumed at most once. Gateways share one store (Redis) so any replica can check a proof another
/// issued; <see cref="InMemoryTonProofNonces"/> serves a single process.
/// </summary>
public interface ITonProofNonces
{
    Task IssueAsync(string subject, string payload, TimeSpan lifetime, CancellationToken cancellationToken);

    /// <summary>True exactly once for a payload issued to <paramref name="subject"/> and not yet expired.</summary>
    Task<bool> ConsumeAsync(string subject, string payload, CancellationToken cancellationToken);
}

/// <summary>Payloads in this process's memory: a restart or another replica does not know them (they then simply retry).</summary>
public sealed class InMemoryTonProofNonces(TimeProvider clock) : ITonProofNonces
{
    private readonly ConcurrentDictionary<(string Subject, string Payload), DateTimeOffset> _nonces = new();

    public Task IssueAsync(string subject, string payload, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        foreach (var (key, expires) in _nonces)
        {
            if (expires < now)
            {
                _nonces.TryRemove(key, out _);
            }
        }

        _nonces[(subject, payload)] = now + lifetime;
        return Task.CompletedTask;
    }

    public Task<bool> ConsumeAsync(string subject, string payload, CancellationToken cancellationToken) =>
        Task.FromResult(_nonces.TryRemove((subject, payload), out var expires) && expires >= clock.GetUtcNow());
}

/// <summary>
/// Checks TON Connect <c>ton_proof</c> logins: the domain is allowed, the timestamp is fresh, the payload is a nonce
/// issued to the same subject (the Telegram user) and not yet used, the state init hashes to the address, and the key
/// in its data signed it. A payload issued to one user cannot log another in, whichever replica checks it.
/// </summary>
public sealed class TonProofVerifier(IOptions<TonProofOptions> options, TimeProvider clock, ITonProofNonces nonces)
{
    private static readonly byte[] Prefix = Encoding.UTF8.GetBytes("ton-proof-item-v2/");
    private static readonly byte[] ConnectPrefix = [0xFF, 0xFF, .. Encoding.UTF8.GetBytes("ton-connect")];

    /// <summary>A fresh single-use payload for <paramref name="subject"/> to put in its <c>ton_proof</c> request.</summary>
    public async Task<string> IssueNonceAsync(string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        var payload = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await nonces.IssueAsync(subject, payload, options.Value.MaxAge, cancellationToken).ConfigureAwait(false);
        return payload;
    }

    /// <summary>
    /// Returns the verified wallet address or throws <see cref="TonProofException"/> saying what is wrong; the payload
    /// must have been issued to <paramref name="subject"/>, and is used up by a proof that verifies.
    /// </summary>
    public async Task<TonAddress> VerifyAsync(TonProofRequest proof, string subject, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        var address = Check(proof);

        // Consumed last, so a forged proof cannot burn a legitimate user's nonce.
        if (!await nonces.ConsumeAsync(subject, proof.Payload, cancellationToken).ConfigureAwait(false))
        {
            throw new TonProofException("The proof payload is not a nonce this server issued to you, or it was already used.");
        }

        return address;
    }

    /// <summary>Every check but the payload's: the proof is well-formed, fresh, for an allowed domain and signed by the wallet.</summary>
    private TonAddress Check(TonProofRequest proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        // The request comes from JSON a client wrote: a missing field is a refused proof, not a NullReferenceException.
        if (proof.Address is null || proof.Domain is null || proof.Payload is null || proof.SignatureBase64 is null || proof.WalletStateInitBase64 is null)
        {
            throw new TonProofException("The proof lacks one of address, domain, payload, signature or wallet state init.");
        }

        var opts = options.Value;
        if (!opts.AllowedDomains.Contains(proof.Domain, StringComparer.OrdinalIgnoreCase))
        {
            throw new TonProofException($"The proof is for domain '{Truncate(proof.Domain)}', which is not allowed.");
        }

        var now = clock.GetUtcNow();
        var age = now.ToUnixTimeSeconds() - proof.Timestamp;
        // Compared as seconds, so a timestamp far outside DateTimeOffset's range is refused rather than thrown on.
        if (proof.Timestamp < 0 || age > opts.MaxAge.TotalSeconds || age < -60)
        {
            throw new TonProofException($"The proof timestamp {proof.Timestamp} is stale or in the future.");
        }

        TonAddress address;
        Cell stateInitCell;
        try
        {
            address = TonAddress.Parse(proof.Address);
            stateInitCell = Cell.FromBocBase64(proof.WalletStateInitBase64);
        }
        catch (TonFormatException e)
        {
            throw new TonProofException("The proof's address or wallet state init is malformed: " + e.Message);
        }

        if (!stateInitCell.Hash.SequenceEqual(address.Hash))
        {
            throw new TonProofException("The wallet state init does not hash to the address.");
        }

        var publicKey = PublicKeyOf(StateInit.FromCell(stateInitCell));
        if (proof.PublicKeyHex is { Length: > 0 } claimed && !string.Equals(claimed, Convert.ToHexStringLower(publicKey), StringComparison.OrdinalIgnoreCase))
        {
            throw new TonProofException("The public key sent does not match the wallet's data.");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(proof.SignatureBase64);
        }
        catch (FormatException)
        {
            throw new TonProofException("The proof signature is not base64.");
        }

        if (!WalletKey.Verify(publicKey, SigningHash(address, proof.Domain, proof.Timestamp, proof.Payload), signature))
        {
            throw new TonProofException("The proof signature does not verify.");
        }

        return address;
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    /// <summary><c>sha256(0xFFFF ‖ "ton-connect" ‖ sha256(message))</c>, what the wallet signs.</summary>
    public static byte[] SigningHash(TonAddress address, string domain, long timestamp, string payload)
    {
        var domainBytes = Encoding.UTF8.GetBytes(domain);
        var payloadBytes = Encoding.UTF8.GetBytes(payload);
        var message = new byte[Prefix.Length + 4 + 32 + 4 + domainBytes.Length + 8 + payloadBytes.Length];
        var span = message.AsSpan();
        Prefix.CopyTo(span);
        span = span[Prefix.Length..];
        BinaryPrimitives.WriteInt32BigEndian(span, address.Workchain);
        address.Hash.CopyTo(span[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[36..], (uint)domainBytes.Length);
        domainBytes.CopyTo(span[40..]);
        span = span[(40 + domainBytes.Length)..];
        BinaryPrimitives.WriteUInt64LittleEndian(span, (ulong)timestamp);
        payloadBytes.CopyTo(span[8..]);
        return SHA256.HashData([.. ConnectPrefix, .. SHA256.HashData(message)]);
    }

    private static byte[] PublicKeyOf(StateInit init)
    {
        if (init.Code.Hash.SequenceEqual(WalletCode.V5R1.Hash))
        {
            return WalletV5R1.PublicKeyFromData(init.Data);
        }

        if (init.Code.Hash.SequenceEqual(WalletCode.V4R2.Hash))
        {
            return WalletV4R2.PublicKeyFromData(init.Data);
        }

        throw new TonProofException("The wallet's code is neither v4r2 nor v5r1; its public key cannot be read offline.");
    }
}
