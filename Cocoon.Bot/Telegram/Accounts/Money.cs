using System.Globalization;

namespace Cocoon.Bot.Telegram.Accounts;

public static class Money
{
    public const long NanotonsPerTon = 1_000_000_000;

    /// <summary>"1.5 TON", "0.000012 TON": exact, trailing zeros dropped.</summary>
    public static string Ton(long nanotons)
    {
        var sign = nanotons < 0 ? "-" : string.Empty;
        var abs = Math.Abs((decimal)nanotons);
        var whole = decimal.Truncate(abs / NanotonsPerTon);
        var frac = (long)(abs - (whole * NanotonsPerTon));
        var fracText = frac == 0 ? string.Empty : "." + frac.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
        return $"{sign}{whole.ToString(CultureInfo.InvariantCulture)}{fracText} TON";
    }
}
