namespace Cocoon.Ledger.Ton;

/// <summary>Malformed TON data: an address, a cell, a bag of cells or a message that does not parse.</summary>
public sealed class TonFormatException : FormatException
{
    public TonFormatException(string message)
        : base(message)
    {
    }

    public TonFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
