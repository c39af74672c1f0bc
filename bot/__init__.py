"""pecbot: reads PEC renewal submissions for CSV ASSO.VO.CE. ETS, files them into cases, answers each association."""
