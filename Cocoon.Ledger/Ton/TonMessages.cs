namespace Cocoon.Ledger.Ton;

/// <summary>A contract's initial state: code and data. Its cell hash is the account hash of the address.</summary>
public sealed record StateInit(Cell Code, Cell Data)
{
    /// <summary><c>split_depth:Maybe  special:Maybe  code:Maybe ^Cell  data:Maybe ^Cell  library:HashmapE</c>.</summary>
    public Cell ToCell() => new CellBuilder()
        .StoreBit(false)
        .StoreBit(false)
        .StoreMaybeRef(Code)
        .StoreMaybeRef(Data)
        .StoreBit(false)
        .EndCell();

    public TonAddress AddressIn(int workchain) => new(workchain, ToCell().Hash);

    /// <summary>Reads a StateInit cell with code and data and no split depth, special flags or libraries.</summary>
    public static StateInit FromCell(Cell cell)
    {
        var s = cell.BeginParse();
        if (s.LoadBit() || s.LoadBit())
        {
            throw new TonFormatException("StateInit with split_depth or special flags is not a wallet.");
        }

        var code = s.LoadMaybeRef() ?? throw new TonFormatException("StateInit has no code.");
        var data = s.LoadMaybeRef() ?? throw new TonFormatException("StateInit has no data.");
        return new StateInit(code, data);
    }
}

/// <summary>One outgoing internal message of a wallet transfer.</summary>
public sealed record InternalTransfer(TonAddress Destination, long Amount, Cell? Body = null, bool Bounce = true, StateInit? Init = null)
{
    public static InternalTransfer WithComment(TonAddress destination, long amount, string comment, bool bounce = true) =>
        new(destination, amount, TonMessages.Comment(comment), bounce);
}

/// <summary>Message cells as the TL-B schema lays them out (<c>block.tlb</c>).</summary>
public static class TonMessages
{
    /// <summary>A text comment body: <c>uint32 0</c> then UTF-8 text, continued in ref 0 when a cell is full.</summary>
    public static Cell Comment(string text) => new CellBuilder().StoreUInt(0, 32).StoreSnakeString(text).EndCell();

    /// <summary>The comment of a body cell, or null when the body is not a text comment.</summary>
    public static string? TryReadComment(Cell? body)
    {
        if (body is null || body.BitLength < 32)
        {
            return null;
        }

        var s = body.BeginParse();
        if (s.LoadUInt(32) != 0)
        {
            return null;
        }

        try
        {
            return s.LoadSnakeString();
        }
        catch (TonFormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// MessageRelaxed with int_msg_info: ihr disabled, not bounced, src addr_none, zero fees and times (the
    /// validator fills them in). Init and body go inline when they fit, in a ref otherwise.
    /// </summary>
    public static Cell Internal(InternalTransfer transfer)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        var b = new CellBuilder()
            .StoreBit(false)
            .StoreBit(true)
            .StoreBit(transfer.Bounce)
            .StoreBit(false)
            .StoreAddress(null)
            .StoreAddress(transfer.Destination)
            .StoreCoins(transfer.Amount)
            .StoreBit(false)
            .StoreCoins(0)
            .StoreCoins(0)
            .StoreUInt(0, 64)
            .StoreUInt(0, 32);
        if (transfer.Init is { } init)
        {
            var initCell = init.ToCell();
            b.StoreBit(true);
            if (b.AvailableBits - 2 >= initCell.BitLength)
            {
                b.StoreBit(false).StoreCell(initCell);
            }
            else
            {
                b.StoreBit(true).StoreRef(initCell);
            }
        }
        else
        {
            b.StoreBit(false);
        }

        StoreBody(b, transfer.Body ?? Cell.Empty, inlineBitsReserve: 1);
        return b.EndCell();
    }

    /// <summary>An inbound external message (<c>ext_in_msg_info$10</c>, src addr_none, import_fee 0).</summary>
    public static Cell ExternalIn(TonAddress destination, Cell body, StateInit? init = null)
    {
        var b = new CellBuilder()
            .StoreUInt(0b10, 2)
            .StoreAddress(null)
            .StoreAddress(destination)
            .StoreCoins(0);
        if (init is not null)
        {
            var initCell = init.ToCell();
            b.StoreBit(true);
            if (b.AvailableBits - 2 < initCell.BitLength + body.BitLength)
            {
                b.StoreBit(true).StoreRef(initCell);
            }
            else
            {
                b.StoreBit(false).StoreCell(initCell);
            }
        }
        else
        {
            b.StoreBit(false);
        }

        StoreBody(b, body, inlineBitsReserve: 1);
        return b.EndCell();
    }

    private static void StoreBody(CellBuilder b, Cell body, int inlineBitsReserve)
    {
        if (b.AvailableBits - inlineBitsReserve >= body.BitLength && b.RefCount + body.Refs.Count <= Cell.MaxRefs)
        {
            b.StoreBit(false).StoreCell(body);
        }
        else
        {
            b.StoreBit(true).StoreRef(body);
        }
    }
}
