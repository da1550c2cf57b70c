using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NSec.Cryptography;

namespace Cocoon.Bot.MiniApp;

/// <summary>The Telegram user the Mini App was opened by (the <c>user</c> field of the init data).</summary>
public sealed record MiniAppUser(long Id, string? FirstName, string? Username, string? LanguageCode);

/// <summary>Init data that passed validation: who, when, and every field as Telegram sent it.</summary>
public sealed record InitData(MiniAppUser User, DateTimeOffset AuthDate, IReadOnlyDictionary<string, string> Fields);

/// <summary>Why init data was refused; the message is safe to show the client (it never echoes the hash or token).</summary>
public sealed class InitDataException(string message) : Exception(message);

/// <summary>
/// Validates Telegram Mini App init data (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):
/// the HMAC-SHA256 <c>hash</c> keyed by the bot token, compared in constant time, and an <c>auth_date</c> that is
/// neither older than the allowed age (a captured init data string is a bearer credential, so it must expire) nor in
/// the future. <see cref="ValidateThirdParty"/> checks the Ed25519 <c>signature</c> instead, for a party without the token.
/// </summary>
public sealed class InitDataValidator(string botToken, TimeSpan maxAge, TimeProvider clock)
{
    /// <summary>Telegram's production key for third-party validation.</summary>
    public const string ProductionPublicKeyHex = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d";

    /// <summary>Telegram's test-environment key for third-party validation.</summary>
    public const string TestPublicKeyHex = "40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec";

    // A client clock a little ahead of ours is normal; much ahead means a forged or replayed-from-the-future auth_date.
    private static readonly TimeSpan AllowedClockSkew = TimeSpan.FromMinutes(1);

    private readonly byte[] _secret = HMACSHA256.HashData("WebAppData"u8, Encoding.UTF8.GetBytes(botToken));

    /// <summary>Returns the validated init data or throws <see cref="InitDataException"/> saying what is wrong.</summary>
    public InitData Validate(string initData)
    {
        var fields = Parse(initData);
        if (!fields.TryGetValue("hash", out var hashHex))
        {
            throw new InitDataException("The init data has no 'hash' field.");
        }

        byte[] claimed;
        try
        {
            claimed = Convert.FromHexString(hashHex);
        }
        catch (FormatException)
        {
            throw new InitDataException("The init data 'hash' is not hex.");
        }

        var computed = HMACSHA256.HashData(_secret, Encoding.UTF8.GetBytes(CheckString(fields, "hash")));
        if (!CryptographicOperations.FixedTimeEquals(computed, claimed))
        {
            throw new InitDataException("The init data signature does not verify (tampered, or signed for another bot).");
        }

        return Accept(fields);
    }

    /// <summary>
    /// Third-party validation: the base64url Ed25519 <c>signature</c> over <c>"{botId}:WebAppData\n"</c> and the sorted
    /// pairs without <c>hash</c> and <c>signature</c>, under Telegram's public key (32 bytes, hex).
    /// </summary>
    public InitData ValidateThirdParty(string initData, long botId, string publicKeyHex)
    {
        var fields = Parse(initData);
        if (!fields.TryGetValue("signature", out var signatureText))
        {
            throw new InitDataException("The init data has no 'signature' field.");
        }

        byte[] signature;
        byte[] keyBytes;
        try
        {
            signature = Base64UrlDecode(signatureText);
            keyBytes = Convert.FromHexString(publicKeyHex);
        }
        catch (FormatException)
        {
            throw new InitDataException("The init data 'signature' is not base64url, or the public key is not hex.");
        }

        var message = Encoding.UTF8.GetBytes($"{botId}:WebAppData\n" + CheckString(fields, "hash", "signature"));
        var algorithm = SignatureAlgorithm.Ed25519;
        if (signature.Length != algorithm.SignatureSize
            || !PublicKey.TryImport(algorithm, keyBytes, KeyBlobFormat.RawPublicKey, out var key)
            || key is null
            || !algorithm.Verify(key, message, signature))
        {
            throw new InitDataException("The init data Ed25519 signature does not verify under Telegram's public key.");
        }

        return Accept(fields);
    }

    private InitData Accept(Dictionary<string, string> fields)
    {
        if (!fields.TryGetValue("auth_date", out var authText) || !long.TryParse(authText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var authSeconds)
            || authSeconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            throw new InitDataException("The init data 'auth_date' is missing or not a unix time.");
        }

        var authDate = DateTimeOffset.FromUnixTimeSeconds(authSeconds);
        var now = clock.GetUtcNow();
        if (authDate > now + AllowedClockSkew)
        {
            throw new InitDataException("The init data 'auth_date' is in the future.");
        }

        if (now - authDate > maxAge)
        {
            throw new InitDataException("The init data is too old; reopen the Mini App.");
        }

        if (!fields.TryGetValue("user", out var userJson))
        {
            throw new InitDataException("The init data has no 'user' field.");
        }

        return new InitData(ParseUser(userJson), authDate, fields);
    }

    private static MiniAppUser ParseUser(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            // TryGetInt64 throws on anything but a number, so the kind is checked first: a signed "id":"42" is refused, not a 500.
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number
                || !id.TryGetInt64(out var userId) || userId <= 0)
            {
                throw new InitDataException("The init data 'user' has no positive numeric 'id'.");
            }

            return new MiniAppUser(userId, Text(root, "first_name"), Text(root, "username"), Text(root, "language_code"));
        }
        catch (JsonException)
        {
            throw new InitDataException("The init data 'user' is not JSON.");
        }

        static string? Text(JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    /// <summary>URL query parsing as the Mini App's URLSearchParams encodes it ('+' is a space); duplicate keys are refused.</summary>
    internal static Dictionary<string, string> Parse(string initData)
    {
        if (string.IsNullOrWhiteSpace(initData))
        {
            throw new InitDataException("The init data is empty.");
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in initData.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Decode(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? string.Empty : Decode(pair[(eq + 1)..]);
            if (!fields.TryAdd(key, value))
            {
                throw new InitDataException($"The init data repeats the field '{key}'.");
            }
        }

        return fields;

        static string Decode(string s)
        {
            try
            {
                return Uri.UnescapeDataString(s.Replace('+', ' '));
            }
            catch (UriFormatException)
            {
                throw new InitDataException("The init data is not URL-encoded.");
            }
        }
    }

    internal static string CheckString(Dictionary<string, string> fields, params string[] excluded) =>
        string.Join('\n', fields
            .Where(f => !excluded.Contains(f.Key, StringComparer.Ordinal))
            .OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(f => f.Key + "=" + f.Value));

    private static byte[] Base64UrlDecode(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));
    }
}
