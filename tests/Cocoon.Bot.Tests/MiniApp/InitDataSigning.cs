using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// Signs init data in-process with Telegram's HMAC scheme, for inputs the Node library will not produce (a user whose
/// id is a string, random fields) and for fuzzing without a Node process per case. That our validator agrees with an
/// independent signer is proven by <see cref="NodeInitDataSigner"/>'s tests; this one only needs to be Telegram's formula.
/// </summary>
internal static class InitDataSigning
{
    public static string Sign(string botToken, IReadOnlyDictionary<string, string> fields)
    {
        var secret = HMACSHA256.HashData("WebAppData"u8, Encoding.UTF8.GetBytes(botToken));
        var check = string.Join('\n', fields.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + "=" + f.Value));
        var hash = Convert.ToHexStringLower(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes(check)));
        return string.Join('&', fields.Select(f => Uri.EscapeDataString(f.Key) + "=" + Uri.EscapeDataString(f.Value)).Append("hash=" + hash));
    }

    /// <summary>Fresh init data for <paramref name="userJson"/> (the raw <c>user</c> field), signed now.</summary>
    public static string SignUser(string botToken, string userJson, DateTimeOffset? authDate = null) =>
        Sign(botToken, new Dictionary<string, string>
        {
            ["auth_date"] = (authDate ?? DateTimeOffset.UtcNow.AddSeconds(-30)).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["query_id"] = "AAHdF6IQAAAAAN0XohDhrOrc",
            ["user"] = userJson,
        });
}
