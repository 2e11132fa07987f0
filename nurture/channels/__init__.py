"""Channels beyond email: LINE for leads (nurture/channels/line). Email lives in
nurture/mail; every send of every channel is one `sends` row through the same gate
(nurture/sending), with its channel."""
