package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LogEntry is one message of the engine's log stream, the engine's logdriver.LogEntry (entry.proto):
//
//	message LogEntry { string source = 1; int64 time_nano = 2; bytes line = 3; bool partial = 4;
//	                   PartialLogEntryMetadata partial_log_metadata = 5; }
//	message PartialLogEntryMetadata { bool last = 1; string id = 2; int32 ordinal = 3; }
//
// The engine's Go package for it is internal, and six fields do not justify a protobuf runtime and generated code,
// so this file encodes and decodes the protobuf wire format by hand.
type LogEntry struct {
	Source          string // "stdout" or "stderr"
	TimeNano        int64  // when the engine read the line, Unix nanoseconds
	Line            []byte // without its newline
	Partial         bool   // the line goes on in the next entry (the engine splits lines longer than 16 KiB)
	PartialMetadata *PartialMetadata
}

// PartialMetadata ties the pieces of one long line together.
type PartialMetadata struct {
	Last    bool
	ID      string
	Ordinal int32
}

// maxFrameSize is the engine's own limit for one encoded entry (logdriver's maxMsgLen); a larger length prefix
// means the stream is not what we think it is.
const maxFrameSize = 1_000_000

// Protobuf wire types used by entry.proto.
const (
	wireVarint = 0
	wireI64    = 1
	wireBytes  = 2
	wireI32    = 5
)

// MarshalProto encodes e in the protobuf wire format (proto3: zero values are left out).
func (e *LogEntry) MarshalProto() []byte {
	b := make([]byte, 0, len(e.Line)+len(e.Source)+32)
	if e.Source != "" {
		b = appendBytesField(b, 1, []byte(e.Source))
	}
	if e.TimeNano != 0 {
		b = appendVarintField(b, 2, uint64(e.TimeNano))
	}
	if len(e.Line) > 0 {
		b = appendBytesField(b, 3, e.Line)
	}
	if e.Partial {
		b = appendVarintField(b, 4, 1)
	}
	if m := e.PartialMetadata; m != nil {
		var inner []byte
		if m.Last {
			inner = appendVarintField(inner, 1, 1)
		}
		if m.ID != "" {
			inner = appendBytesField(inner, 2, []byte(m.ID))
		}
		if m.Ordinal != 0 {
			inner = appendVarintField(inner, 3, uint64(int64(m.Ordinal))) // int32 is sign-extended on the wire
		}
		b = appendBytesField(b, 5, inner)
	}
	return b
}

// UnmarshalProto decodes the protobuf wire format into e; fields it does not know are skipped, as protobuf
// requires, so a newer engine's additions do no harm.
func (e *LogEntry) UnmarshalProto(b []byte) error {
	*e = LogEntry{}
	return walkFields(b, func(num int, wire int, varint uint64, data []byte) error {
		switch {
		case num == 1 && wire == wireBytes:
			e.Source = string(data)
		case num == 2 && wire == wireVarint:
			e.TimeNano = int64(varint)
		case num == 3 && wire == wireBytes:
			e.Line = append([]byte(nil), data...)
		case num == 4 && wire == wireVarint:
			e.Partial = varint != 0
		case num == 5 && wire == wireBytes:
			m := &PartialMetadata{}
			err := walkFields(data, func(num int, wire int, varint uint64, data []byte) error {
				switch {
				case num == 1 && wire == wireVarint:
					m.Last = varint != 0
				case num == 2 && wire == wireBytes:
					m.ID = string(data)
				case num == 3 && wire == wireVarint:
					m.Ordinal = int32(varint)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("partial_log_metadata: %w", err)
			}
			e.PartialMetadata = m
		}
		return nil
	})
}

func appendVarintField(b []byte, num int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(num)<<3|wireVarint)
	return binary.AppendUvarint(b, v)
}

func appendBytesField(b []byte, num int, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(num)<<3|wireBytes)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

var errTruncated = errors.New("truncated protobuf message")

// walkFields calls visit for every field of one protobuf message: varint fields with their value, length-delimited
// ones with their bytes; fixed-width fields are skipped.
func walkFields(b []byte, visit func(num int, wire int, varint uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		num, wire := int(key>>3), int(key&7)
		if num == 0 {
			return errors.New("protobuf field number 0")
		}
		var varint uint64
		var data []byte
		switch wire {
		case wireVarint:
			varint, n = binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b = b[n:]
		case wireBytes:
			size, n := binary.Uvarint(b)
			if n <= 0 || size > uint64(len(b)-n) {
				return errTruncated
			}
			data, b = b[n:n+int(size)], b[n+int(size):]
		case wireI64, wireI32:
			width := 8
			if wire == wireI32 {
				width = 4
			}
			if len(b) < width {
				return errTruncated
			}
			b = b[width:]
			continue
		default:
			return fmt.Errorf("protobuf wire type %d is not supported", wire)
		}
		if err := visit(num, wire, varint, data); err != nil {
			return err
		}
	}
	return nil
}

// readFrame reads one frame of the engine's log stream: a 4-byte big-endian length, then that many bytes of
// protobuf. It returns io.EOF only at a frame boundary; a stream cut inside a frame is io.ErrUnexpectedEOF.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(header[:])
	if size > maxFrameSize {
		return nil, fmt.Errorf("log frame of %d bytes is over the %d-byte limit", size, maxFrameSize)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// appendFrame appends e to b as one frame: length prefix and protobuf.
func appendFrame(b []byte, e *LogEntry) []byte {
	msg := e.MarshalProto()
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	return append(b, msg...)
}
